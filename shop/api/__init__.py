"""The shoppers' REST API (Django REST framework), mounted at /api/v1/ by config/urls.py.

Views are thin: validate input with a serializer or a FilterSet, call one service
(shop/services.py) or selector (shop/selectors.py), serialize the result.
"""

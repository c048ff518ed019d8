"""Query-string filters: django-filter validates and documents them, selectors run them.

Each FilterSet's filter_queryset hands its cleaned values to one selector, so the SQL of a
list lives in shop/selectors.py with the rest of the reads. StrictFilterBackend refuses
query parameters a list does not know (a typo such as `?categroy=3` must not silently
return everything) and invalid values, with a 400 naming the parameter.
"""

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from shop import selectors
from shop.models import Order, Product
from shop.validators import MAX_ID, max_length

MAX_TAGS = 10
TAG_MAX_LENGTH = max_length(Product, "tags")  # each element of shop_product.tags


def reject_unknown_params(request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        known = (
            f"Known: {', '.join(sorted(allowed))}."
            if allowed
            else "This endpoint takes no query parameters."
        )
        raise ValidationError({name: [f"Unknown query parameter. {known}"] for name in unknown})


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        allowed = set(filterset_class.base_filters) if filterset_class else set()
        paginator = getattr(view, "paginator", None)
        if paginator is not None:
            allowed |= {paginator.cursor_query_param, paginator.page_size_query_param}
        reject_unknown_params(request, allowed)
        return super().filter_queryset(request, queryset, view)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.Filter):
    """A positive bigint: a larger number is a 400, not a database error."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class TagListField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if not value:
            return []
        tags = [tag.strip() for tag in value.split(",")]
        if any(not tag or len(tag) > TAG_MAX_LENGTH for tag in tags) or len(tags) > MAX_TAGS:
            raise forms.ValidationError(
                f"Up to {MAX_TAGS} comma-separated tags of 1 to {TAG_MAX_LENGTH} characters."
            )
        return tags


@extend_schema_field(OpenApiTypes.STR)
class TagsFilter(django_filters.Filter):
    field_class = TagListField


PRICE = {"min_value": 0, "max_digits": 12, "decimal_places": 2}
YES_NO = [("true", "true"), ("false", "false")]


class ProductFilter(django_filters.FilterSet):
    category = IdFilter(help_text="A category id: its products and its descendants'.")
    min_price = django_filters.NumberFilter(help_text="Price at least this.", **PRICE)
    max_price = django_filters.NumberFilter(help_text="Price at most this.", **PRICE)
    tags = TagsFilter(help_text="Comma-separated tags; a product must have all of them.")
    in_stock = django_filters.ChoiceFilter(
        choices=YES_NO, help_text="true: stock above zero; false: sold out."
    )
    q = django_filters.CharFilter(
        max_length=200,
        help_text='Full-text search, web-search syntax: `oak table`, `"oak table"`, `desk -metal`.',
    )
    ordering = django_filters.ChoiceFilter(
        choices=[(name, name) for name in selectors.PRODUCT_ORDERINGS],
        help_text="newest (default), price, -price, or relevance (the default with q).",
    )

    class Meta:
        model = Product
        fields = []

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        return selectors.product_list(
            category_id=data.get("category"),
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
            tags=data.get("tags") or None,
            in_stock={"true": True, "false": False}.get(data.get("in_stock")),
            q=(data.get("q") or "").strip() or None,
            ordering=data.get("ordering") or None,
        )


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Order.Status.choices)

    class Meta:
        model = Order
        fields = []

    def filter_queryset(self, queryset):
        return selectors.order_list_for_user(
            user_id=self.request.user.pk, status=self.form.cleaned_data.get("status") or None
        )

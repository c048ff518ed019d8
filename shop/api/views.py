"""Thin views: validate, call one service or selector, serialize.

Optimistic concurrency: GET of a user, profile or order answers with an ETag; PATCH must
send it back in If-Match (428 without, 412 when the resource has changed since, nothing
written), and cancel/transition honour it when sent.
"""

from django.contrib.auth import logout
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from shop import cache, selectors, services
from shop.api import representations
from shop.api import serializers as s
from shop.api.filters import OrderFilter, ProductFilter, reject_unknown_params
from shop.api.permissions import IsStaff
from shop.api.throttles import AnonThrottle, LoginThrottle, login_attempt
from shop.cache import Family
from shop.errors import ErrorCode, ShopError
from shop.fastpaths.serializer_reuse import validated
from shop.validators import IDEMPOTENCY_KEY_MAX_LENGTH


def _errors(*codes: int) -> dict:
    return {code: OpenApiResponse(s.ErrorSerializer) for code in codes}


IF_MATCH = OpenApiParameter(
    "If-Match",
    location=OpenApiParameter.HEADER,
    description="The ETag of your last GET. Required on PATCH (428 without it); "
    "412 if the resource changed since, and nothing is written.",
)
IF_MATCH_OPTIONAL = OpenApiParameter(
    "If-Match",
    location=OpenApiParameter.HEADER,
    description="Optional: the order's ETag; 412 if it changed since, nothing written.",
)


def _if_match(request, *, required: bool) -> list[str] | None:
    raw = request.headers.get("If-Match")
    tags = [tag.strip() for tag in raw.split(",") if tag.strip()] if raw is not None else None
    if required and not tags:
        raise ShopError(
            ErrorCode.PRECONDITION_REQUIRED,
            "Send If-Match with the ETag of your last GET, so that a change made meanwhile "
            "is not overwritten.",
        )
    return tags


def _with_etag(response: Response, etag: str) -> Response:
    response["ETag"] = etag
    return response


def _no_query_params(request) -> None:
    reject_unknown_params(request, set())


# --------------------------------------------------------------------------- accounts


class RegisterView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonThrottle, LoginThrottle]

    @extend_schema(
        operation_id="auth_register",
        summary="Register a shopper account",
        request=s.RegisterInput,
        responses={201: s.UserOutput, **_errors(400, 409, 429)},
        description="Create a shopper account. A taken username and a taken email address "
        "get the same 409 (account_unavailable), which does not say which one it was.",
    )
    def post(self, request):
        data = validated(s.RegisterInput, request.data)
        user = services.user_register(**data)
        return Response(s.UserOutput(user).data, status=status.HTTP_201_CREATED)


class LoginView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonThrottle, LoginThrottle]

    @extend_schema(
        operation_id="auth_login",
        summary="Log in: get an API token",
        request=s.LoginInput,
        responses={200: s.TokenOutput, **_errors(400, 429)},
        description="Exchange a username and password for an API token; send it as "
        "`Authorization: Bearer <token>` (or `Authorization: Token <token>`).",
    )
    def post(self, request):
        data = validated(s.LoginInput, request.data)
        with login_attempt(request, data["username"]) as attempt:
            token = services.auth_token_create(**data, request=request)
        response = Response(s.TokenOutput(token).data)
        attempt.remember_device(response)
        return response


class LogoutView(APIView):
    @extend_schema(
        operation_id="auth_logout",
        summary="Log out: delete the token",
        request=None,
        responses={204: None, **_errors(401)},
        description="Delete the API token (every client using it is logged out) and end the "
        "session, if any.",
    )
    def post(self, request):
        services.auth_token_delete(user=request.user)
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(
        operation_id="me_retrieve",
        summary="My account",
        responses={200: s.UserOutput, **_errors(401)},
    )
    def get(self, request):
        _no_query_params(request)
        user = request.user
        return _with_etag(Response(s.UserOutput(user).data), selectors.user_etag(user))

    @extend_schema(
        operation_id="me_update",
        summary="Change my username or email",
        parameters=[IF_MATCH],
        request=s.UserUpdateInput,
        responses={200: s.UserOutput, **_errors(400, 401, 409, 412, 428)},
    )
    def patch(self, request):
        tags = _if_match(request, required=True)
        data = validated(s.UserUpdateInput, request.data)
        user = services.user_update(user=request.user, if_match=tags, **data)
        return _with_etag(Response(s.UserOutput(user).data), selectors.user_etag(user))


class ProfileView(APIView):
    @extend_schema(
        operation_id="me_profile_retrieve",
        summary="My profile",
        responses={200: s.ProfileSerializer, **_errors(401)},
    )
    def get(self, request):
        _no_query_params(request)
        entry = representations.profile(request.user)
        return _with_etag(Response(entry["data"]), entry["etag"])

    @extend_schema(
        operation_id="me_profile_update",
        summary="Change my profile",
        parameters=[IF_MATCH],
        request=s.ProfileSerializer,
        responses={200: s.ProfileSerializer, **_errors(400, 401, 412, 428)},
    )
    def patch(self, request):
        tags = _if_match(request, required=True)
        data = validated(s.ProfileSerializer, request.data)
        profile = services.profile_update(user=request.user, if_match=tags, **data)
        return _with_etag(
            Response(s.ProfileSerializer(profile).data), selectors.profile_etag(profile)
        )


# --------------------------------------------------------------------------- catalogue


# The API root's links, by URL name: the shoppers' endpoints and where they are described.
API_ROOT_LINKS = {
    "products": "api:products",
    "categories": "api:categories",
    "orders": "api:orders",
    "me": "api:me",
    "register": "api:register",
    "login": "api:login",
    "logout": "api:logout",
    "docs": "docs",
    "schema": "schema",
}


class ApiRootView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="api_root",
        summary="Links to every endpoint",
        responses={200: s.ApiRootOutput, **_errors(400)},
        description="Links to every shopper endpoint, the API's documentation and its schema.",
    )
    def get(self, request):
        _no_query_params(request)
        return Response(
            {name: request.build_absolute_uri(reverse(url)) for name, url in API_ROOT_LINKS.items()}
        )


class CategoryTreeView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="categories_tree",
        summary="The category tree",
        responses={200: s.CategoryTreeOutput(many=True), **_errors(400)},
        description="The whole category tree: top-level categories with nested children.",
    )
    def get(self, request):
        _no_query_params(request)
        return Response(representations.category_tree())


class ProductListView(generics.ListAPIView):
    """Active products: filters, full-text search, keyset pages."""

    permission_classes = [AllowAny]
    serializer_class = s.ProductOutput
    filterset_class = ProductFilter

    def get_queryset(self):
        # Unfiltered; ProductFilter hands the validated query string to the same selector.
        return selectors.product_list()

    @extend_schema(
        operation_id="products_list",
        summary="List and search products",
        responses={200: s.ProductOutput(many=True), **_errors(400)},
    )
    def get(self, request):
        return super().get(request)

    def list(self, request, *args, **kwargs):
        # The whole page, links included, cached under its query (bad queries raise: no entry).
        key = cache.product_list_key(representations.page_params(request))
        build = lambda: representations.plain(super(ProductListView, self).list(request).data)  # noqa: E731
        return Response(cache.cached(Family.PRODUCT_LIST, key, build))


class ProductDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="products_retrieve",
        summary="One product",
        responses={200: s.ProductOutput, **_errors(404)},
    )
    def get(self, request, pk: int):
        _no_query_params(request)
        return Response(representations.product_detail(pk))


# --------------------------------------------------------------------------- orders


def _idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not (1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH and key.isascii() and key.isprintable()):
        message = f"1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters, e.g. a UUID."
        raise ShopError(ErrorCode.INVALID, message, fields={"Idempotency-Key": [message]})
    return key


def _order_response(order_id: int, user_id: int | None, **kwargs) -> Response:
    order = selectors.order_get(order_id=order_id, user_id=user_id)
    return _with_etag(Response(s.OrderOutput(order).data, **kwargs), selectors.order_etag(order))


class OrderListCreateView(generics.ListAPIView):
    serializer_class = s.OrderSummaryOutput
    filterset_class = OrderFilter

    def get_queryset(self):
        return selectors.order_list_for_user(user_id=self.request.user.pk)

    @extend_schema(
        operation_id="orders_list",
        summary="My orders",
        responses={200: s.OrderSummaryOutput(many=True), **_errors(400, 401)},
        description="My orders, newest first.",
    )
    def get(self, request):
        return super().get(request)

    def list(self, request, *args, **kwargs):
        # A page of my orders, cached under my own generation (bumped by every order write).
        key = cache.order_list_key(request.user.pk, representations.page_params(request))
        build = lambda: representations.plain(super(OrderListCreateView, self).list(request).data)  # noqa: E731
        return Response(cache.cached(Family.ORDER_LIST, key, build))

    @extend_schema(
        operation_id="orders_create",
        summary="Place an order",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                description=f"Optional, up to {IDEMPOTENCY_KEY_MAX_LENGTH} characters (a UUID): "
                "the same key with the same body returns the same order (201, "
                "Idempotent-Replayed: true), even when the requests race; the same key with "
                "another body is a 422.",
            )
        ],
        request=s.OrderCreateInput,
        responses={201: s.OrderOutput, **_errors(400, 401, 409, 422, 503)},
        description="Place an order. Prices come from the catalogue; the stock of every line "
        "is taken at once or not at all (409 out_of_stock names the short lines).",
    )
    def post(self, request):
        _no_query_params(request)
        data = validated(s.OrderCreateInput, request.data)
        key = _idempotency_key(request)
        order, created = services.order_create(
            user=request.user,
            lines=[
                services.OrderLine(product_id=line["product"], quantity=line["quantity"])
                for line in data["items"]
            ],
            shipping_address=data["shipping_address"],
            idempotency_key=key,
        )
        # The order whole, new or replayed: shown without another query.
        entry = representations.order_created(order)
        response = _with_etag(
            Response(entry["data"], status=status.HTTP_201_CREATED), entry["etag"]
        )
        response["Location"] = request.build_absolute_uri(reverse("api:order", args=[order.pk]))
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


class OrderDetailView(APIView):
    @extend_schema(
        operation_id="orders_retrieve",
        summary="One of my orders",
        responses={200: s.OrderOutput, **_errors(401, 404)},
    )
    def get(self, request, pk: int):
        _no_query_params(request)
        entry = representations.order_detail(pk, request.user.pk)
        return _with_etag(Response(entry["data"]), entry["etag"])

    @extend_schema(
        operation_id="orders_update",
        summary="Change a pending order's shipping address",
        parameters=[IF_MATCH],
        request=s.OrderUpdateInput,
        responses={200: s.OrderOutput, **_errors(400, 401, 404, 409, 412, 428)},
        description="Change the shipping address of a pending order.",
    )
    def patch(self, request, pk: int):
        tags = _if_match(request, required=True)
        data = validated(s.OrderUpdateInput, request.data)
        services.order_update(
            order_id=pk,
            owner=request.user,
            if_match=tags,
            shipping_address=data["shipping_address"],
        )
        return _order_response(pk, request.user.pk)


class OrderCancelView(APIView):
    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel my order",
        parameters=[IF_MATCH_OPTIONAL],
        request=None,
        responses={200: s.OrderOutput, **_errors(401, 404, 409, 412, 503)},
        description="Cancel a pending or processing order; its stock goes back on sale.",
    )
    def post(self, request, pk: int):
        tags = _if_match(request, required=False)
        services.order_cancel(order_id=pk, owner=request.user, if_match=tags)
        return _order_response(pk, request.user.pk)


class StaffOrderDetailView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="staff_orders_retrieve",
        summary="Any order (staff)",
        responses={200: s.OrderOutput, **_errors(401, 403, 404)},
    )
    def get(self, request, pk: int):
        _no_query_params(request)
        return _order_response(pk, None)


class StaffOrderTransitionView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="staff_orders_transition",
        summary="Move an order to its next status (staff)",
        parameters=[IF_MATCH_OPTIONAL],
        request=s.OrderTransitionInput,
        responses={200: s.OrderOutput, **_errors(400, 401, 403, 404, 409, 412, 503)},
        description="Move an order along pending -> processing -> shipped -> delivered, or "
        "cancel it while pending or processing (the stock goes back). Anything else is a "
        "409 illegal_transition.",
    )
    def post(self, request, pk: int):
        data = validated(s.OrderTransitionInput, request.data)
        tags = _if_match(request, required=False)
        services.order_transition(order_id=pk, status=data["status"], if_match=tags)
        return _order_response(pk, None)

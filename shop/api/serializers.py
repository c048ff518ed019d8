"""Input serializers (what a client may send, validated) and output serializers (what it
gets back). Inputs never reach a model directly: views pass validated_data to a service."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers
from rest_framework.settings import api_settings

from shop.api import fields as strict
from shop.models import Order, User, UserProfile
from shop.services import MAX_LINE_QUANTITY, MAX_ORDER_LINES
from shop.validators import (
    COUNTRY_CODE,
    COUNTRY_CODE_MESSAGE,
    MAX_ID,
    error_messages,
    max_length,
    shipping_address_clean,
)
from shop.validators import SHIPPING_ADDRESS_MAX_LENGTHS as ADDRESS_MAX

# The schema's examples (Swagger UI's "Try it out" bodies): product 1 exists in the demo data.
ADDRESS_EXAMPLE = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}
ORDER_SUMMARY_EXAMPLE = {
    "id": 2001,
    "status": "pending",
    "total_amount": "60.00",
    "version": 1,
    "created_at": "2026-01-15T09:30:00Z",
    "updated_at": "2026-01-15T09:30:00Z",
}
ORDER_EXAMPLE = {
    **ORDER_SUMMARY_EXAMPLE,
    "shipping_address": ADDRESS_EXAMPLE,
    "items": [
        {
            "product": {"id": 1, "name": "Brass lamp"},
            "quantity": 2,
            "unit_price": "30.00",
            "subtotal": "60.00",
        }
    ],
}


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A bad line",
            value={
                "code": "invalid",
                "message": "Ensure this value is less than or equal to 1000.",
                "fields": {
                    "items.0.quantity": ["Ensure this value is less than or equal to 1000."]
                },
            },
            status_codes=["400"],
        )
    ]
)
class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer."""

    code = serializers.CharField(help_text="Stable error code, e.g. invalid, out_of_stock.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per input field, keyed by its path: `quantity`, "
        "`shipping_address.city`, `items.0.product` (line 0 of the items); empty when the "
        "error is about no one field.",
    )


# --------------------------------------------------------------------------- accounts


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A new shopper",
            value={"username": "ada", "email": "ada@example.com", "password": "correct-horse-42"},
        )
    ]
)
class RegisterInput(strict.InputSerializer):
    username = strict.StrictCharField(max_length=max_length(User, "username"))
    email = strict.StrictEmailField(max_length=max_length(User, "email"))
    password = strict.StrictCharField(
        max_length=128, write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample("A shopper", value={"username": "ada", "password": "correct-horse-42"})
    ]
)
class LoginInput(strict.InputSerializer):
    username = strict.StrictCharField(max_length=max_length(User, "username"))
    password = strict.StrictCharField(max_length=128, trim_whitespace=False)


@extend_schema_serializer(
    examples=[
        OpenApiExample("A token", value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"})
    ]
)
class TokenOutput(serializers.Serializer):
    token = serializers.CharField(source="key")


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A shopper",
            value={
                "id": 201,
                "username": "ada",
                "email": "ada@example.com",
                "is_staff": False,
                "created_at": "2026-01-15T09:30:00Z",
            },
        )
    ]
)
class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    is_staff = serializers.BooleanField()
    created_at = serializers.DateTimeField()


@extend_schema_serializer(
    examples=[OpenApiExample("A new email", value={"email": "ada@lovelace.example"})]
)
class UserUpdateInput(strict.InputSerializer):
    username = strict.StrictCharField(max_length=max_length(User, "username"), required=False)
    email = strict.StrictEmailField(max_length=max_length(User, "email"), required=False)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A profile",
            value={
                "first_name": "Ada",
                "last_name": "Lovelace",
                "phone": "+44 20 7946 0000",
                "bio": "",
                "avatar_url": "",
            },
        )
    ]
)
class ProfileSerializer(strict.InputSerializer):
    """Profile in and out (every field optional on PATCH)."""

    first_name = strict.StrictCharField(
        max_length=max_length(UserProfile, "first_name"), allow_blank=True, required=False
    )
    last_name = strict.StrictCharField(
        max_length=max_length(UserProfile, "last_name"), allow_blank=True, required=False
    )
    phone = strict.StrictCharField(
        max_length=max_length(UserProfile, "phone"), allow_blank=True, required=False
    )
    # bio is a text column of no length: 2000 is the API's own limit.
    bio = strict.StrictCharField(max_length=2000, allow_blank=True, required=False)
    avatar_url = strict.StrictURLField(
        max_length=max_length(UserProfile, "avatar_url"), allow_blank=True, required=False
    )


# --------------------------------------------------------------------------- catalogue


class CategoryRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.SlugField()


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A category and a child",
            value={
                "id": 1,
                "name": "Home",
                "slug": "home",
                "children": [{"id": 2, "name": "Lighting", "slug": "lighting", "children": []}],
            },
        )
    ]
)
class CategoryTreeOutput(CategoryRefOutput):
    children = serializers.SerializerMethodField()

    def get_children(self, node) -> list[dict]:
        return CategoryTreeOutput(node.children, many=True).data


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A product",
            value={
                "id": 1,
                "name": "Brass lamp",
                "description": "A desk lamp in brushed brass.",
                "price": "30.00",
                "stock_quantity": 12,
                "in_stock": True,
                "category": {"id": 2, "name": "Lighting", "slug": "lighting"},
                "tags": ["brass", "desk"],
                "attributes": {"colour": "brass"},
                "created_at": "2026-01-15T09:30:00Z",
            },
        )
    ]
)
class ProductOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    stock_quantity = serializers.IntegerField()
    in_stock = serializers.SerializerMethodField()
    category = CategoryRefOutput()
    tags = serializers.ListField(child=serializers.CharField())
    attributes = serializers.DictField()
    created_at = serializers.DateTimeField()

    def get_in_stock(self, product) -> bool:
        return product.stock_quantity > 0


# --------------------------------------------------------------------------- orders


# Validated by validators.shipping_address_clean, as the service and the admin validate an
# address; the fields describe it (the schema) and show it (output). A comment, not a
# docstring: the schema would take it as the address's description.
class ShippingAddressSerializer(strict.InputSerializer):
    name = strict.StrictCharField(max_length=ADDRESS_MAX["name"])
    line1 = strict.StrictCharField(max_length=ADDRESS_MAX["line1"])
    line2 = strict.StrictCharField(
        max_length=ADDRESS_MAX["line2"], required=False, allow_blank=True
    )
    city = strict.StrictCharField(max_length=ADDRESS_MAX["city"])
    postal_code = strict.StrictCharField(max_length=ADDRESS_MAX["postal_code"])
    country = strict.StrictRegexField(
        f"^{COUNTRY_CODE.pattern}$",
        max_length=ADDRESS_MAX["country"],
        error_messages={"invalid": COUNTRY_CODE_MESSAGE},
    )

    def to_internal_value(self, data):
        try:
            return shipping_address_clean(data)
        except DjangoValidationError as error:
            messages = error_messages(error)
            if isinstance(messages, list):  # not an object: as DRF's Serializer words it
                messages = {api_settings.NON_FIELD_ERRORS_KEY: messages}
            raise serializers.ValidationError(messages) from None


class OrderLineInput(strict.InputSerializer):
    product = strict.StrictIntegerField(min_value=1, max_value=MAX_ID)
    quantity = strict.StrictIntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Two of product 1",
            value={"items": [{"product": 1, "quantity": 2}], "shipping_address": ADDRESS_EXAMPLE},
        )
    ]
)
class OrderCreateInput(strict.InputSerializer):
    items = OrderLineInput(many=True, min_length=1, max_length=MAX_ORDER_LINES)
    shipping_address = ShippingAddressSerializer()

    def validate_items(self, items):
        seen, errors = set(), []
        for line in items:
            duplicate = line["product"] in seen
            seen.add(line["product"])
            errors.append(
                {"product": ["This product is already a line of the order."]} if duplicate else {}
            )
        if any(errors):
            raise serializers.ValidationError(errors)
        return items


@extend_schema_serializer(
    examples=[OpenApiExample("A new address", value={"shipping_address": ADDRESS_EXAMPLE})]
)
class OrderUpdateInput(strict.InputSerializer):
    shipping_address = ShippingAddressSerializer()


@extend_schema_serializer(examples=[OpenApiExample("Ship it", value={"status": "shipped"})])
class OrderTransitionInput(strict.InputSerializer):
    # Any status: one that is no next step of this order (pending, say) gets the service's
    # 409 naming the statuses it can move to, not a 400 "not a valid choice".
    status = strict.StrictChoiceField(choices=Order.Status.choices)


class ProductRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class OrderItemOutput(serializers.Serializer):
    product = ProductRefOutput()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)


@extend_schema_serializer(examples=[OpenApiExample("An order", value=ORDER_SUMMARY_EXAMPLE)])
class OrderSummaryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    total_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


@extend_schema_serializer(examples=[OpenApiExample("An order", value=ORDER_EXAMPLE)])
class OrderOutput(OrderSummaryOutput):
    shipping_address = ShippingAddressSerializer()
    items = OrderItemOutput(many=True, source="item_list")  # selectors.order_get's Prefetch


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "The links",
            value={
                name: f"http://127.0.0.1:8000/api/v1/{path}"
                for name, path in {
                    "products": "products/",
                    "categories": "categories/",
                    "orders": "orders/",
                    "me": "me/",
                    "register": "auth/register/",
                    "login": "auth/login/",
                    "logout": "auth/logout/",
                }.items()
            }
            | {
                "docs": "http://127.0.0.1:8000/api/docs/",
                "schema": "http://127.0.0.1:8000/api/schema/",
            },
        )
    ]
)
class ApiRootOutput(serializers.Serializer):
    """Where everything is, as absolute links: a client, or someone with curl, starts here."""

    products = serializers.URLField()
    categories = serializers.URLField()
    orders = serializers.URLField()
    me = serializers.URLField()
    register = serializers.URLField()
    login = serializers.URLField()
    logout = serializers.URLField()
    docs = serializers.URLField(help_text="Swagger UI for this API.")
    schema = serializers.URLField(help_text="The OpenAPI 3 schema.")

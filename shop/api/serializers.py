"""Input serializers (what a client may send, validated) and output serializers (what it
gets back). Inputs never reach a model directly: views pass validated_data to a service."""

from django.core.exceptions import ValidationError as DjangoValidationError
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


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer."""

    code = serializers.CharField(help_text="Stable error code, e.g. invalid, out_of_stock.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(
        help_text="Messages per input field (nested for lists of objects); empty if none."
    )


# --------------------------------------------------------------------------- accounts


class RegisterInput(strict.InputSerializer):
    username = strict.StrictCharField(max_length=max_length(User, "username"))
    email = strict.StrictEmailField(max_length=max_length(User, "email"))
    password = strict.StrictCharField(
        max_length=128, write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )


class LoginInput(strict.InputSerializer):
    username = strict.StrictCharField(max_length=max_length(User, "username"))
    password = strict.StrictCharField(max_length=128, trim_whitespace=False)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField(source="key")


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    is_staff = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class UserUpdateInput(strict.InputSerializer):
    username = strict.StrictCharField(max_length=max_length(User, "username"), required=False)
    email = strict.StrictEmailField(max_length=max_length(User, "email"), required=False)


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


class CategoryTreeOutput(CategoryRefOutput):
    children = serializers.SerializerMethodField()

    def get_children(self, node) -> list[dict]:
        return CategoryTreeOutput(node.children, many=True).data


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


class OrderUpdateInput(strict.InputSerializer):
    shipping_address = ShippingAddressSerializer()


class OrderTransitionInput(strict.InputSerializer):
    status = strict.StrictChoiceField(choices=[status.value for status in Order.TARGET_STATUSES])


class ProductRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class OrderItemOutput(serializers.Serializer):
    product = ProductRefOutput()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)


class OrderSummaryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    total_amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class OrderOutput(OrderSummaryOutput):
    shipping_address = ShippingAddressSerializer()
    items = OrderItemOutput(many=True, source="item_list")  # selectors.order_get's Prefetch


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

"""Input serializers (what a client may send, validated) and output serializers (what it
gets back). Inputs never reach a model directly: views pass validated_data to a service."""

from rest_framework import serializers

from shop.api import fields as strict
from shop.models import Order
from shop.services import MAX_LINE_QUANTITY, MAX_ORDER_LINES

MAX_BIGINT = 2**63 - 1


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer."""

    code = serializers.CharField(help_text="Stable error code, e.g. invalid, out_of_stock.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(
        help_text="Messages per input field (nested for lists of objects); empty if none."
    )


# --------------------------------------------------------------------------- accounts


class RegisterInput(strict.InputSerializer):
    username = strict.StrictCharField(max_length=150)
    email = strict.StrictEmailField(max_length=254)
    password = strict.StrictCharField(
        max_length=128, write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )


class LoginInput(strict.InputSerializer):
    username = strict.StrictCharField(max_length=150)
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
    username = strict.StrictCharField(max_length=150, required=False)
    email = strict.StrictEmailField(max_length=254, required=False)


class ProfileSerializer(strict.InputSerializer):
    """Profile in and out (every field optional on PATCH)."""

    first_name = strict.StrictCharField(max_length=150, allow_blank=True, required=False)
    last_name = strict.StrictCharField(max_length=150, allow_blank=True, required=False)
    phone = strict.StrictCharField(max_length=32, allow_blank=True, required=False)
    bio = strict.StrictCharField(max_length=2000, allow_blank=True, required=False)
    avatar_url = strict.StrictURLField(max_length=500, allow_blank=True, required=False)


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


class ShippingAddressSerializer(strict.InputSerializer):
    name = strict.StrictCharField(max_length=200)
    line1 = strict.StrictCharField(max_length=200)
    line2 = strict.StrictCharField(max_length=200, required=False, allow_blank=True)
    city = strict.StrictCharField(max_length=100)
    postal_code = strict.StrictCharField(max_length=20)
    country = strict.StrictRegexField(
        r"^[A-Z]{2}$",
        max_length=2,
        error_messages={"invalid": "Use the ISO 3166-1 alpha-2 code, e.g. GB."},
    )

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value.get("line2"):
            value.pop("line2", None)
        return value


class OrderLineInput(strict.InputSerializer):
    product = strict.StrictIntegerField(min_value=1, max_value=MAX_BIGINT)
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
    status = strict.StrictChoiceField(
        choices=[status for status in Order.Status.values if status != Order.Status.PENDING]
    )


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

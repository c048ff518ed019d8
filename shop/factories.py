"""factory-boy factories: the test suite's fixtures and the rows `manage.py seed`'s small path
fills from the seeding vocabulary (shop/seeding/).

They live in the app, not in tests/, because the seed uses them too (one definition of "a
plausible order"). Every random choice goes through factory-boy's random generator, so
`factory.random.reseed_random(n)` makes a whole run reproducible.
"""

from decimal import Decimal

import factory
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils.text import slugify
from factory.django import DjangoModelFactory

from shop.models import Category, Order, OrderItem, Product, User, UserProfile
from shop.seeding.vocabulary import TAGS


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    # Unusable ("!...") unless a test sets one: hashing a real password per row would make
    # seeding 100,000 users take minutes. Tests that log in pass password="...".
    password = factory.LazyFunction(lambda: make_password(None))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        raw = kwargs.pop("raw_password", None)
        if raw is not None:
            kwargs["password"] = make_password(raw)
        return super()._create(model_class, *args, **kwargs)


class UserProfileFactory(DjangoModelFactory):
    class Meta:
        model = UserProfile

    user = factory.SubFactory(UserFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    phone = factory.Faker("numerify", text="+44 20 #### ####")
    bio = factory.Faker("sentence", nb_words=10)


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.LazyAttribute(lambda c: slugify(c.name))
    parent = None


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Faker("catch_phrase")
    description = factory.Faker("paragraph", nb_sentences=3)
    price = factory.Faker("pydecimal", left_digits=3, right_digits=2, min_value=1, max_value=500)
    stock_quantity = factory.Faker("random_int", min=0, max=200)
    category = factory.SubFactory(CategoryFactory)
    tags = factory.Faker("random_elements", elements=TAGS, length=2, unique=True)
    attributes = factory.LazyFunction(lambda: {"colour": "blue"})


def shipping_address_for(name: str) -> dict:
    return {
        "name": name,
        "line1": "1 High Street",
        "city": "London",
        "postal_code": "N1 9GU",
        "country": "GB",
    }


class OrderFactory(DjangoModelFactory):
    """An order and, with lines=[(product, quantity), ...], its items.

    total_amount is computed from the lines before the insert, so the order is in balance
    when the deferred total check runs at COMMIT.
    """

    class Meta:
        model = Order

    user = factory.SubFactory(UserFactory)
    shipping_address = factory.LazyAttribute(lambda o: shipping_address_for(o.user.username))
    lines = factory.LazyFunction(list)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        lines = kwargs.pop("lines")
        kwargs["total_amount"] = sum(
            (product.price * quantity for product, quantity in lines), Decimal("0.00")
        )
        # One transaction: the deferred total check runs at its COMMIT, with the items in.
        with transaction.atomic():
            order = super()._create(model_class, *args, **kwargs)
            OrderItem.objects.bulk_create(
                OrderItem(order=order, product=product, quantity=quantity, unit_price=product.price)
                for product, quantity in lines
            )
        return order

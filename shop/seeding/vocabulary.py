"""What demo data looks like, written once for both seed paths (small.py builds rows in Python,
bulk.py generates them inside PostgreSQL): the words rows are made of, and the sizes and mixes
that make a plausible shop. Change a number here and both paths follow."""

from decimal import Decimal

from shop.models import Order

TOP_CATEGORIES = ["Books", "Music", "Garden", "Kitchen", "Toys", "Sports", "Office", "Outdoor"]
FIRST_NAMES = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia"]
LAST_NAMES = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Perlman"]
# A buyer always ships to the same address, one per name the profiles draw from.
ADDRESS_NAMES = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
ADJECTIVES = ["walnut", "oak", "steel", "linen", "ceramic", "bamboo", "copper", "wool", "glass"]
NOUNS = ["desk", "lamp", "chair", "mug", "kettle", "shelf", "rug", "clock", "vase", "table"]
WORDS = ["sturdy", "handmade", "classic", "compact", "durable", "light", "modern", "quiet"]
DESCRIPTION_WORDS = 12  # a product's description: this many of WORDS, ADJECTIVES and NOUNS
TAGS = ["new", "sale", "eco", "gift", "bestseller", "limited"]  # a product has two of them
COLOURS = ["blue", "red", "green"]

MIN_PRICE, MAX_PRICE = Decimal("1.00"), Decimal("500.00")
MAX_STOCK = 200  # units in stock: 0 to MAX_STOCK
INACTIVE_SHARE = 0.05  # hidden products: the admin's "inactive" filter has rows to find

HISTORY_DAYS = 90  # orders are spread over the last HISTORY_DAYS days
MAX_LINES = 5  # items per order: 1 to MAX_LINES, distinct products
MAX_QUANTITY = 3  # units per item: 1 to MAX_QUANTITY

# Percent of orders in each state, one share for every state of Order.Status (a test holds
# them to it): most orders of a running shop have long been delivered.
STATUS_MIX = {
    Order.Status.DELIVERED: 70,
    Order.Status.SHIPPED: 10,
    Order.Status.PROCESSING: 8,
    Order.Status.PENDING: 7,
    Order.Status.CANCELLED: 5,
}

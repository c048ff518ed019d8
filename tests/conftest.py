import pytest
from django.db import connection


@pytest.fixture
def immediate_constraints():
    """Run deferred constraint triggers now rather than at COMMIT.

    Tests run inside a transaction that is rolled back, so deferred checks (the order total)
    would otherwise never fire.
    """

    def check():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    return check

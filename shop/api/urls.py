"""/api/v1/: the shoppers' API (config/urls.py mounts it and the schema/docs)."""

from django.urls import path

from shop.api import views

app_name = "api"

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="root"),
    path("auth/register/", views.RegisterView.as_view(), name="register"),
    path("auth/login/", views.LoginView.as_view(), name="login"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/profile/", views.ProfileView.as_view(), name="profile"),
    path("categories/", views.CategoryTreeView.as_view(), name="categories"),
    path("products/", views.ProductListView.as_view(), name="products"),
    path("products/<int:pk>/", views.ProductDetailView.as_view(), name="product"),
    path("orders/", views.OrderListCreateView.as_view(), name="orders"),
    path("orders/<int:pk>/", views.OrderDetailView.as_view(), name="order"),
    path("orders/<int:pk>/cancel/", views.OrderCancelView.as_view(), name="order-cancel"),
    path("staff/orders/<int:pk>/", views.StaffOrderDetailView.as_view(), name="staff-order"),
    path(
        "staff/orders/<int:pk>/transition/",
        views.StaffOrderTransitionView.as_view(),
        name="staff-order-transition",
    ),
]

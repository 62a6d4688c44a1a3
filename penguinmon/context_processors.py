from penguinmon.navigation import nav_items


def navigation(request):
    return {"nav_items": nav_items(request.user, request.path)}

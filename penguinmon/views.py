from django.shortcuts import redirect, render

from penguinmon.navigation import nav_items


def home(request):
    """Send each user to the first page their role may see."""
    items = nav_items(request.user, request.path)
    if items:
        return redirect(items[0]["url"])
    return render(request, "no_role.html", status=403)

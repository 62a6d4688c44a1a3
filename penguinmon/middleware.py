from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired

# The JSON API authenticates itself (bearer tokens or session, see penguinmon/api_auth.py)
# and answers 401 in JSON; /metrics and static files are for machines.
PUBLIC_PREFIXES = ("/api/", "/metrics", "/static/", "/favicon.ico")


class LoginRequiredMiddleware(DjangoLoginRequired):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(PUBLIC_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)

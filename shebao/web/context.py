from django.conf import settings


def shell(request):
    return {"system_name": settings.SHEBAO_SYSTEM_NAME, "agency_name": settings.SHEBAO_AGENCY_NAME}

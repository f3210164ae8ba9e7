from ninja import NinjaAPI

api = NinjaAPI(title="慈溪社保本地系统 API", version="1", urls_namespace="api")

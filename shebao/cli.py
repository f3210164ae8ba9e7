"""The ``shebao`` console script: the same as ``manage.py``."""

import os
import sys

MISSING_KEY = ("错误：未设置环境变量 SHEBAO_SECRET_KEY。\n"
               "生产环境（SHEBAO_DEBUG 不为 1）的每条 shebao 命令都需要它（令牌、会话和签名用它）；请按部署时的设置导出，例如：\n"
               "  export SHEBAO_SECRET_KEY='…'（与网页服务用同一个值）\n"
               "开发时可改用 SHEBAO_DEBUG=1。")


def secret_key_missing(environ=os.environ) -> bool:
    """The condition ``config/settings.py`` refuses to start on: DEBUG off, no key, no dev-key override
    (other settings modules, such as the tests', have their own key)."""
    return (environ.get("DJANGO_SETTINGS_MODULE", "config.settings") == "config.settings"
            and not environ.get("SHEBAO_SECRET_KEY") and environ.get("SHEBAO_DEBUG", "0") != "1"
            and environ.get("SHEBAO_ALLOW_DEV_KEY") != "1")


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if secret_key_missing():
        # said plainly, not as the settings module's traceback (``shebao token create`` showed one)
        print(MISSING_KEY, file=sys.stderr)
        return 2
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
    return 0

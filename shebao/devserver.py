"""`make run`: start the embedded PostgreSQL, migrate, load the demo once, print the demo logins,
start the job worker and serve the UI at http://127.0.0.1:8000."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

ADDR = os.environ.get("SHEBAO_ADDR", "127.0.0.1:8000")


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SHEBAO_DEBUG", "1")
    t0 = time.monotonic()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from shebao.accounts.services import roles_sync

    roles_sync()
    from shebao.demo.runner import demo_load, demo_loaded, demo_users_ensure

    if not demo_loaded():
        print("首次运行：正在加载演示数据（small）…", flush=True)
        demo_load(scale="small", progress=True)
    logins = demo_users_ensure()
    print(f"\n数据库就绪（{time.monotonic() - t0:.1f} 秒）。演示账号（仅供演示，生产环境请用 shebao setup）：")
    for username, password, label in logins:
        print(f"  {label:<12} 用户名 {username:<10} 密码 {password}")
    print(f"\n请在浏览器打开 http://{ADDR}/   （Ctrl+C 停止）\n", flush=True)

    manage = [sys.executable, "manage.py"]
    worker = subprocess.Popen([*manage, "procrastinate", "worker"], stdout=subprocess.DEVNULL)
    try:
        return subprocess.call([*manage, "runserver", ADDR, "--noreload"])
    except KeyboardInterrupt:
        return 0
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

"""Settings come from the environment; production settings pass `check --deploy`."""

import os
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.base",
    "SECRET_KEY": "x7#kq9!vR2mZp4@Lw8$Nc3^Hd6&Tj1*Yb5(Gf0)Us-Qe=Ao+Ii_Ky",
    "ALLOWED_HOSTS": "crm.example.com",
    "DATABASE_URL": "sqlite:////tmp/fieldwise-deploy-check.sqlite3",
    "PATH": os.environ.get("PATH", ""),
}


def manage(*args, env):
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "manage.py", *args, "--verbosity", "0"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def setting_values(env, *expressions):
    """Evaluate `settings.<expression>` in a fresh process with `env`, one output word each."""
    code = "from django.conf import settings as s; print(" + ", ".join(f"s.{e}" for e in expressions) + ")"
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_debug_mode_has_working_defaults():
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.base", "DEBUG": "1", "PATH": os.environ.get("PATH", "")}
    values = setting_values(env, "CELERY_TASK_ALWAYS_EAGER", "DATABASES['default']['ENGINE']", "TIME_ZONE")
    assert values == ["True", "django.db.backends.sqlite3", "UTC"]


def test_redis_url_switches_celery_to_the_real_broker():
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": "1",
        "REDIS_URL": "redis://127.0.0.1:6379/3",
        "TIME_ZONE": "Europe/Paris",
        "PATH": os.environ.get("PATH", ""),
    }
    values = setting_values(env, "CELERY_TASK_ALWAYS_EAGER", "CELERY_BROKER_URL", "CELERY_TIMEZONE")
    assert values == ["False", "redis://127.0.0.1:6379/3", "Europe/Paris"]


def test_docker_compose_stack_is_valid(tmp_path):
    # The deployment file is checked with the compose client when the machine has one.
    import shutil

    client = shutil.which("docker-compose")
    if client is None:
        import pytest

        pytest.skip("no docker-compose client on this machine")
    env_file = settings.BASE_DIR / ".env"
    created = not env_file.exists()
    if created:
        shutil.copy(settings.BASE_DIR / ".env.example", env_file)
    try:
        result = subprocess.run(  # noqa: S603
            [client, "config", "--services"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60
        )
    finally:
        if created:
            env_file.unlink()
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"web", "worker", "beat", "db", "redis"}

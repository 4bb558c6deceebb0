"""Settings come from the environment; production settings pass `check --deploy`."""

import os
import shutil
import subprocess
import sys

import pytest
import yaml
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


def test_production_cookies_https_and_login_throttling_are_strict():
    values = setting_values(
        PRODUCTION_ENV,
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_PRELOAD",
        "AXES_ENABLED",
        "AXES_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME.total_seconds()",
    )
    assert values == ["True", "True", "True", "31536000", "True", "True", "5", "900.0"]


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


def compose_client() -> list[str] | None:
    """`docker compose` (the v2 plugin) when it works, else the standalone `docker-compose`, else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)  # noqa: S607
        if probe.returncode == 0:
            return ["docker", "compose"]
    client = shutil.which("docker-compose")
    return [client] if client else None


def test_docker_compose_stack_is_valid(tmp_path):
    # The deployment file, with .env.example as its .env, checked by the compose client when the machine has one.
    client = compose_client()
    if client is None:
        pytest.skip("no docker compose client on this machine")
    shutil.copy(settings.BASE_DIR / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(settings.BASE_DIR / ".env.example", tmp_path / ".env")
    result = subprocess.run([*client, "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60)  # noqa: S603

    assert result.returncode == 0, result.stderr
    stack = yaml.safe_load(result.stdout)
    services = stack["services"]
    assert set(services) == {"web", "worker", "beat", "db", "redis"}
    assert all("test" in service["healthcheck"] for service in services.values())
    assert set(stack["volumes"]) == {"pgdata", "redisdata"}
    assert volume_sources(services["db"]) == {"pgdata"}
    assert volume_sources(services["redis"]) == {"redisdata"}
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["DATABASE_URL"] == "postgres://fieldwise:change-me@db:5432/fieldwise"
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
    # Worker and beat start after web, which runs the migrations.
    assert services["worker"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert services["beat"]["depends_on"]["web"]["condition"] == "service_healthy"


def volume_sources(service: dict) -> set[str]:
    # docker-compose 1.x prints "name:/path:rw", the v2 plugin {"source": name, ...}.
    return {v["source"] if isinstance(v, dict) else v.split(":")[0] for v in service.get("volumes", [])}


@pytest.mark.parametrize(
    ("url_options", "expected"),
    [("", "-c jit=off"), ("?options=-c%20lock_timeout%3D300", "-c jit=off -c lock_timeout=300")],
)
def test_postgresql_connections_run_without_jit_and_keep_the_urls_options(url_options, expected):
    env = {**PRODUCTION_ENV, "DATABASE_URL": f"postgres://u@db.example.com:5432/crm{url_options}"}
    code = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS']['options'])"
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected

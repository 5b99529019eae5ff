"""The deployment files, validated statically (Docker cannot run here; nginx -t can)."""

import configparser
import ipaddress
import re
import shlex
import subprocess

import pytest
import yaml

from harness.nginx import PLACEHOLDER, SITE_TEMPLATE, config_test, render_site, self_signed_certificate
from harness.nginx import write_main_config
from harness.servers import PYTHON, ROOT
from tests.support.binaries import require_binary
from tests.support.production import default_environment

GUNICORN_COMMAND = "gunicorn -c deploy/gunicorn.conf.py mcpsite.wsgi:application"
GRACEFUL_TIMEOUT = 30  # deploy/gunicorn.conf.py's default


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dockerfile():
    """Instructions of the Dockerfile as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_compose_runs_postgres_redis_web_and_nginx_each_with_a_healthcheck(compose):
    assert set(compose["services"]) == {"postgres", "redis", "web", "nginx"}
    for name, service in compose["services"].items():
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "always", name
    assert compose["services"]["postgres"]["image"].startswith("postgres:")
    assert compose["services"]["redis"]["image"].startswith("redis:")
    assert compose["services"]["nginx"]["image"].startswith("nginx:")


def test_compose_web_waits_for_healthy_backends_and_migrates_before_gunicorn(compose):
    web = compose["services"]["web"]
    assert web["build"] == "."
    assert web["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                 "redis": {"condition": "service_healthy"}}
    command = web["command"]
    assert command.index("manage.py migrate --noinput") < command.index(f"exec {GUNICORN_COMMAND}")


def test_compose_web_environment_points_at_the_compose_postgres_and_redis(compose):
    environment = compose["services"]["web"]["environment"]
    assert environment["ENVIRONMENT"] == "${ENVIRONMENT:-production}"
    assert re.match(r"^postgres://mcp:.+@postgres:5432/mcp$", environment["DATABASE_URL"])
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert compose["services"]["web"]["env_file"] == [{"path": ".env", "required": False}]


def test_compose_nginx_renders_deploy_nginx_conf_with_every_placeholder_set(compose):
    nginx = compose["services"]["nginx"]
    assert "./deploy/nginx.conf:/etc/nginx/templates/default.conf.template:ro" in nginx["volumes"]
    placeholders = set(PLACEHOLDER.findall(SITE_TEMPLATE.read_text()))
    assert placeholders <= set(nginx["environment"])
    assert nginx["environment"]["NGINX_UPSTREAM"] == "web:8080"
    assert set(nginx["ports"]) == {"80:80", "443:443"}
    assert nginx["depends_on"] == {"web": {"condition": "service_healthy"}}
    # nginx serves /static/ from the volume the web container fills with collectstatic.
    assert f"static:{nginx['environment']['NGINX_STATIC_ROOT']}:ro" in nginx["volumes"]
    assert "static:/app/staticfiles" in compose["services"]["web"]["volumes"]


def test_compose_web_trusts_as_proxy_only_the_fixed_address_of_its_nginx(compose):
    services, networks = compose["services"], compose["networks"]
    nginx_address = services["nginx"]["networks"]["edge"]["ipv4_address"]
    assert ipaddress.ip_address(nginx_address).version == 4  # one address, not a range
    environment = services["web"]["environment"]
    assert environment["TRUSTED_PROXIES"] == environment["FORWARDED_ALLOW_IPS"] == nginx_address
    # nginx's network is its own: shared only with web, and Docker never hands nginx's address to another
    # container (it lies outside the range Docker allocates from).
    members = {name for name, service in services.items() if "edge" in service.get("networks", [])}
    assert members == {"nginx", "web"}
    assert list(services["nginx"]["networks"]) == ["edge"]
    (pool,) = networks["edge"]["ipam"]["config"]
    address = ipaddress.ip_address(nginx_address)
    assert address in ipaddress.ip_network(pool["subnet"]) and address not in ipaddress.ip_network(pool["ip_range"])


def test_dockerfile_builds_on_python_311_and_installs_the_pinned_requirements(dockerfile):
    assert dockerfile[0][0] == "FROM"
    assert re.match(r"^python:3\.11(-slim)?$", dockerfile[0][1])
    runs = [arguments for keyword, arguments in dockerfile if keyword == "RUN"]
    assert any("pip install --no-cache-dir -r requirements.txt" in run for run in runs)
    copies = [arguments.split() for keyword, arguments in dockerfile if keyword == "COPY"]
    for *sources, _destination in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file"


def test_dockerfile_runs_gunicorn_with_our_config_as_a_non_root_user(dockerfile):
    users = [arguments for keyword, arguments in dockerfile if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    last_user = max(index for index, (keyword, _) in enumerate(dockerfile) if keyword == "USER")
    assert all(keyword != "RUN" for keyword, _ in dockerfile[last_user:]), "RUN after USER would run as the user"
    [cmd] = [arguments for keyword, arguments in dockerfile if keyword == "CMD"]
    assert yaml.safe_load(cmd) == GUNICORN_COMMAND.split()
    assert any(keyword == "HEALTHCHECK" and "/health" in arguments for keyword, arguments in dockerfile)


@pytest.mark.needs_nginx
def test_nginx_accepts_the_site_config_with_its_placeholders_filled(tmp_path):
    nginx = require_binary("nginx", "nginx-light")
    openssl = require_binary("openssl", "openssl")
    cert, key = self_signed_certificate(tmp_path, openssl)
    site = render_site({
        "NGINX_SERVER_NAME": "mcp.example.com",
        "NGINX_UPSTREAM": "127.0.0.1:8080",
        "NGINX_HTTP_LISTEN": "127.0.0.1:8081",
        "NGINX_HTTPS_LISTEN": "127.0.0.1:8443",
        "NGINX_TLS_CERTIFICATE": str(cert),
        "NGINX_TLS_CERTIFICATE_KEY": str(key),
        "NGINX_STATIC_ROOT": str(tmp_path / "static"),
    })
    assert not PLACEHOLDER.search(site)
    result = config_test(nginx, write_main_config(tmp_path, site))
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_nginx_placeholders_are_only_ours_so_envsubst_leaves_nginx_variables_alone():
    template = SITE_TEMPLATE.read_text()
    braced = set(re.findall(r"\$\{([A-Za-z_]+)\}", template))
    assert braced == set(PLACEHOLDER.findall(template))
    assert "$host" in template and "$proxy_add_x_forwarded_for" in template


def nginx_seconds(template: str, directive: str) -> int:
    [value] = re.findall(rf"^\s*{directive}\s+(\d+)s;", template, re.MULTILINE)
    return int(value)


def test_nginx_buffers_every_request_body_and_cuts_off_clients_slower_than_its_timeouts():
    template = SITE_TEMPLATE.read_text()
    assert "proxy_request_buffering off" not in template  # /mcp included: only responses stream
    assert re.search(r"^\s*proxy_request_buffering on;", template, re.MULTILINE)
    mcp_location = template[template.index("location = /mcp"):]
    assert "proxy_buffering off;" in mcp_location[:mcp_location.index("}")]
    for directive in ("client_header_timeout", "client_body_timeout", "send_timeout", "keepalive_timeout"):
        assert 0 < nginx_seconds(template, directive) <= 60, directive


def test_gunicorn_defaults_to_threaded_workers_so_a_streaming_call_takes_a_thread_not_a_worker():
    shown = "import runpy; c = runpy.run_path('deploy/gunicorn.conf.py'); print(c['worker_class'], c['threads'])"
    result = subprocess.run([PYTHON, "-c", shown], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=default_environment())
    worker_class, threads = result.stdout.split()
    assert worker_class == "gthread"
    assert int(threads) > 1


def unit_file(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((ROOT / "deploy" / name).read_text())
    return parser


def test_the_systemd_unit_runs_gunicorn_with_our_config_and_stops_it_gracefully():
    unit = unit_file("mcp-server.service")
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["ExecStart"].endswith(GUNICORN_COMMAND)
    assert service["ExecStartPre"].endswith("manage.py migrate --noinput")
    assert service["Type"] == "notify"  # gunicorn calls sd_notify when it is ready
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > GRACEFUL_TIMEOUT
    assert service["User"] != "root"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    executable = shlex.split(service["ExecStart"])[0]
    assert executable.startswith(service["WorkingDirectory"])


def test_the_supervisor_program_runs_gunicorn_with_our_config_and_stops_it_gracefully():
    config = unit_file("supervisor.conf")
    program = config["program:mcp-server"]
    assert program["command"].endswith(GUNICORN_COMMAND)
    assert program["directory"] == "/opt/mcp-server"
    assert program["user"] != "root"
    assert program["stopsignal"] == "TERM"
    assert int(program["stopwaitsecs"]) > GRACEFUL_TIMEOUT
    assert program["autorestart"] == "true"


def test_gunicorn_accepts_its_config_file():
    result = subprocess.run([PYTHON, "-m", "gunicorn", "--check-config", "-c", "deploy/gunicorn.conf.py"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def setting_variables() -> set[str]:
    """Every environment variable read by mcpsite/settings.py and deploy/gunicorn.conf.py."""
    settings_source = (ROOT / "mcpsite" / "settings.py").read_text()
    gunicorn_source = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
    names = set(re.findall(r"""env_(?:str|int|bool|list)\(\s*["']([A-Z][A-Z0-9_]*)["']""", settings_source))
    names |= set(re.findall(r"""environ\.get\(\s*["']([A-Z][A-Z0-9_]*)["']""", gunicorn_source))
    return names


def test_env_example_documents_every_variable_the_settings_read():
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert len(setting_variables()) > 30
    assert not setting_variables() - documented, f"missing from .env.example: {setting_variables() - documented}"


def test_readme_configuration_table_lists_every_variable_the_settings_read():
    readme = (ROOT / "README.md").read_text()
    rows = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)`", readme, re.MULTILINE))
    assert not setting_variables() - rows, f"missing from the README's table: {setting_variables() - rows}"

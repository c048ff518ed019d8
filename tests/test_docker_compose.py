"""docker-compose.yml, the Dockerfile and .dockerignore, checked without Docker.

The compose file is parsed and its promises are checked: the services, PostgreSQL's
statistics and slow-statement settings, health checks, start-up order, the environment the
settings read, and that no secret is written into the file. The required variables are
found by parsing config/settings with `ast`, so adding a required `env(...)` read to the
settings fails here until docker-compose.yml sets it for web, worker and beat.
"""

import ast
import inspect
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import environ
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ROOT / "config" / "settings"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("web", "worker", "beat")

# Values for the ${...} variables, as an operator's .env would give them.
OPERATOR_ENV = {
    "SECRET_KEY": "k" * 64,
    "ALLOWED_HOSTS": "shop.example.com",
    "POSTGRES_PASSWORD": "0123456789abcdef",
    "APP_DB_PASSWORD": "fedcba9876543210",
    "STAFF_DB_PASSWORD": "00112233445566778899",
    "RABBITMQ_PASSWORD": "99887766554433221100",
}


# --------------------------------------------------------------------------- helpers


class MissingVariable(Exception):
    """Compose refuses to start: a ${NAME:?message} or ${NAME?message} variable is missing."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
REQUIRED_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):\?[^}]+\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Substitute ${...} as docker compose does (-, :-, ?, :?, +, :+ and $$)."""

    def substitute(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, arg = match["op"], match["arg"]
        current = env.get(name)
        missing = current is None or (current == "" and op and op.startswith(":"))
        if op and op.endswith("?"):
            if missing:
                raise MissingVariable(name, arg)
            return current
        if op and op.endswith("-"):
            return arg if missing else current
        if op and op.endswith("+"):
            return "" if missing else arg
        return current or ""

    return VARIABLE.sub(substitute, value)


def environment(service: str) -> dict[str, str]:
    """A service's environment as written in the file (mapping or KEY=VALUE list)."""
    raw = SERVICES[service].get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {key: str(value) for key, value in raw.items()}


def resolved_environment(service: str, env: dict[str, str] = OPERATOR_ENV) -> dict[str, str]:
    return {key: interpolate(value, env) for key, value in environment(service).items()}


def command(service: str) -> list[str]:
    """The service's command as argv; a `sh -c SCRIPT` command is split into SCRIPT's words."""
    raw = SERVICES[service]["command"]
    argv = shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]
    if argv[:2] == ["sh", "-c"]:
        return shlex.split(argv[2])
    return argv


def postgres_flags(argv: list[str]) -> dict[str, str]:
    """The `-c name=value` settings of a postgres command line."""
    flags = {}
    for flag, setting in zip(argv, argv[1:], strict=False):
        if flag == "-c":
            name, _, value = setting.partition("=")
            flags[name] = value
    return flags


def env_getters() -> dict[str, tuple[int, str | None]]:
    """environ.Env's reading methods: the position of `default`, and the variable read when
    none is named (env.db_url() reads DATABASE_URL).

    Taken from the library, so a getter added to django-environ is recognised too.
    """
    getters = {}
    for name, member in inspect.getmembers(environ.Env, callable):
        if name.startswith("_") and name != "__call__":
            continue
        try:
            parameters = list(inspect.signature(member).parameters.values())
        except (TypeError, ValueError):
            continue
        names = [parameter.name for parameter in parameters]
        if "default" in names and names[:2] == ["self", "var"]:
            var_default = parameters[1].default
            getters[name] = (
                names.index("default") - 1,  # without self
                var_default if isinstance(var_default, str) else None,
            )
    return getters


GETTERS = env_getters()


def env_reads(source: str) -> dict[str, bool]:
    """Variables read through `env(...)` / `env.<getter>(...)`: name -> has a default."""
    reads: dict[str, bool] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "env":
            default_at, var_default = GETTERS["__call__"]
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "env"
            and func.attr in GETTERS
        ):
            default_at, var_default = GETTERS[func.attr]
        else:
            continue
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        var = node.args[0] if node.args else keywords.get("var")
        if var is None and var_default:
            name = var_default
        elif isinstance(var, ast.Constant) and isinstance(var.value, str):
            name = var.value
        else:
            raise AssertionError(f"line {node.lineno}: env read with a name that is not a literal")
        has_default = len(node.args) > default_at or "default" in keywords
        # A variable read without a default anywhere is required: prod's reads run too.
        reads[name] = reads.get(name, True) and has_default
    return reads


def settings_sources(module: str = "prod") -> list[Path]:
    """config/settings/<module>.py and the settings modules it imports, recursively."""
    seen: list[Path] = []
    pending = [SETTINGS / f"{module}.py"]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.append(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                pending.append(SETTINGS / f"{node.module}.py")
    return seen


def prod_env_reads() -> dict[str, bool]:
    reads: dict[str, bool] = {}
    for path in settings_sources("prod"):
        for name, has_default in env_reads(path.read_text()).items():
            reads[name] = reads.get(name, True) and has_default
    return reads


PROD_READS = prod_env_reads()
REQUIRED = sorted(name for name, has_default in PROD_READS.items() if not has_default)


# --------------------------------------------------------------------------- the helpers


def test_env_reads_tells_required_from_optional():
    source = (
        "A = env('NEEDED')\n"
        "B = env.int('OPTIONAL', default=5)\n"
        "C = env('POSITIONAL', str, 'x')\n"
        "D = env.db_url('DB')\n"
        "E = env.list('BOTH', default=[])\n"
        "F = env.list('BOTH')\n"
        "G = os.environ.get('NOT_ENV')\n"
        "H = env.cache_url()\n"
        "I = env.bool(var='KEYWORD', default=False)\n"
    )
    assert env_reads(source) == {
        "NEEDED": False,
        "OPTIONAL": True,
        "POSITIONAL": True,
        "DB": False,
        "BOTH": False,
        "CACHE_URL": False,
        "KEYWORD": True,
    }


def test_prod_settings_read_the_known_required_variables():
    assert settings_sources("prod") == [SETTINGS / "prod.py", SETTINGS / "base.py"]
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"} <= set(REQUIRED)


def test_interpolate_follows_compose():
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $$SET $SET", env) == (
        "v d  d $SET v"
    )
    with pytest.raises(MissingVariable, match="EMPTY: needed"):
        interpolate("${EMPTY:?needed}", env)
    assert interpolate("${EMPTY?needed}", env) == ""


# --------------------------------------------------------------------------- services


def test_the_services_exist():
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(SERVICES)
    assert {"redis-replica", "sentinel-1", "sentinel-2", "sentinel-3", "rabbitmq"} <= set(SERVICES)


def test_postgres_is_18_and_keeps_statement_statistics():
    postgres = SERVICES["postgres"]
    assert postgres["image"] == "postgres:18"
    argv = command("postgres")
    assert argv[0] == "postgres"
    flags = postgres_flags(argv)
    assert "pg_stat_statements" in flags["shared_preload_libraries"].split(",")
    assert flags["pg_stat_statements.track"] == "top"
    assert flags["track_io_timing"] == "on"
    assert flags["log_min_duration_statement"] == "250ms"


def test_postgres_settings_match_the_embedded_server():
    """`make run` and compose log and measure the same way (scripts/stack.py SETTINGS)."""
    tree = ast.parse((ROOT / "scripts" / "stack.py").read_text())
    embedded_class = next(
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and node.name == "EmbeddedPostgres"
    )
    assignment = next(
        node
        for node in embedded_class.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "SETTINGS"
    )
    embedded = {
        name: value.strip("'") for name, value in ast.literal_eval(assignment.value).items()
    }
    flags = postgres_flags(command("postgres"))
    shared = (
        "shared_preload_libraries",
        "pg_stat_statements.track",
        "track_io_timing",
        "log_min_duration_statement",
        "log_lock_waits",
        "log_line_prefix",
    )
    assert {name: flags.get(name) for name in shared} == {name: embedded[name] for name in shared}


def test_postgres_creates_the_pg_stat_statements_extension():
    mounts = [str(volume).split(":") for volume in SERVICES["postgres"]["volumes"]]
    init_dirs = [ROOT / source for source, target, *_ in mounts if target.startswith("/docker-")]
    assert [str(path.relative_to(ROOT)) for path in init_dirs] == ["docker/postgres/initdb"]
    sql = "\n".join(path.read_text() for path in sorted(init_dirs[0].glob("*.sql")))
    assert "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;" in sql


def test_redis_is_7_with_append_only_file():
    redis = SERVICES["redis"]
    assert redis["image"] == "redis:7"
    argv = command("redis")
    assert argv[0] == "redis-server"
    assert argv[argv.index("--appendonly") + 1] == "yes"


@pytest.mark.parametrize(
    "service",
    ["postgres", "redis", "redis-replica", "sentinel-1", "rabbitmq", "web", "worker", "beat"],
)
def test_every_service_has_a_healthcheck(service):
    healthcheck = SERVICES[service].get("healthcheck") or {}
    assert healthcheck.get("disable") is not True
    test = healthcheck.get("test")
    assert isinstance(test, list)
    assert test[0] in {"CMD", "CMD-SHELL"}
    assert len(test) > 1


@pytest.mark.parametrize(
    ("service", "probe"),
    [
        ("postgres", "pg_isready"),
        ("redis", "redis-cli ping"),
        ("web", "http://127.0.0.1:8000/healthz"),
        ("worker", "inspect ping"),
        ("beat", "celerybeat.pid"),
    ],
)
def test_healthchecks_probe_the_service(service, probe):
    assert probe in " ".join(SERVICES[service]["healthcheck"]["test"][1:])


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_wait_for_healthy_postgres_and_redis(service):
    depends_on = SERVICES[service]["depends_on"]
    assert isinstance(depends_on, dict), "a list would only wait for the containers to start"
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_are_built_from_the_dockerfile(service):
    build = SERVICES[service]["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (ROOT / context / dockerfile).resolve() == ROOT / "Dockerfile"


def test_migrate_runs_once_as_the_owner_and_sets_up_the_application_role():
    assert command("migrate") == ["python", "manage.py", "migrate", "--no-input"]
    assert SERVICES["migrate"]["restart"] == "no"
    env = resolved_environment("migrate")
    owner = urlsplit(env["DATABASE_URL"])
    assert (owner.username, owner.password) == ("shop", OPERATOR_ENV["POSTGRES_PASSWORD"])
    assert env["DB_APP_ROLE"] == "pgshop_app"
    assert env["DB_APP_PASSWORD"] == OPERATOR_ENV["APP_DB_PASSWORD"]
    assert env["DB_STAFF_ROLE"] == "pgshop_staff"
    assert env["DB_STAFF_PASSWORD"] == OPERATOR_ENV["STAFF_DB_PASSWORD"]
    assert env["DB_POOL"] == "false"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_start_after_migrations_succeeded(service):
    depends_on = SERVICES[service]["depends_on"]
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"


def test_web_serves_with_gunicorn():
    argv = command("web")
    assert argv[:2] == ["gunicorn", "config.wsgi"]
    options = dict(arg.removeprefix("--").split("=", 1) for arg in argv[2:] if "=" in arg)
    assert options["bind"] == "0.0.0.0:8000"
    # 3 workers x DB_POOL_MAX (4) = the 12 connections the compose file's comment budgets.
    assert int(options["workers"]) == 3
    # The psycopg pool is opened per worker, after gunicorn forks: never --preload.
    assert "--preload" not in argv


@pytest.mark.parametrize(("service", "subcommand"), [("worker", "worker"), ("beat", "beat")])
def test_celery_services(service, subcommand):
    assert command(service)[:4] == ["celery", "-A", "config", subcommand]


# --------------------------------------------------------------------------- environment


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_required_setting_is_set(service):
    missing = sorted(set(REQUIRED) - set(environment(service)))
    assert missing == [], f"{service} lacks variables the prod settings require: {missing}"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_variable_set_is_one_the_settings_read(service):
    unknown = sorted(set(environment(service)) - set(PROD_READS) - {"DJANGO_SETTINGS_MODULE"})
    assert unknown == [], f"{service} sets variables no setting reads (a typo?): {unknown}"


@pytest.mark.parametrize(
    ("service", "application_name", "pool"),
    [
        ("web", "pgshop-web", True),
        ("worker", "pgshop-worker", False),
        ("beat", "pgshop-beat", False),
    ],
)
def test_app_service_environment(service, application_name, pool):
    env = resolved_environment(service)
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.prod"
    assert env["DB_APPLICATION_NAME"] == application_name
    # Parsed as env.bool parses it; unset means the settings' default, true (the pool).
    assert environ.Env.parse_value(env.get("DB_POOL", "true"), bool) is pool
    assert env["SECRET_KEY"] == OPERATOR_ENV["SECRET_KEY"]
    assert env["ALLOWED_HOSTS"] == OPERATOR_ENV["ALLOWED_HOSTS"]


# The web serves shoppers as pgshop_app; worker and beat are background work, as staff.
LOGINS = {
    "web": ("pgshop_app", "APP_DB_PASSWORD"),
    "worker": ("pgshop_staff", "STAFF_DB_PASSWORD"),
    "beat": ("pgshop_staff", "STAFF_DB_PASSWORD"),
}


@pytest.mark.parametrize("service", APP_SERVICES)
@pytest.mark.parametrize("variable", ["DATABASE_URL", "STAFF_DATABASE_URL"])
def test_database_urls_point_at_the_postgres_service_as_the_login_roles(service, variable):
    url = urlsplit(resolved_environment(service)[variable])
    postgres = resolved_environment("postgres")
    assert url.scheme in {"postgres", "postgresql"}
    assert (url.hostname, url.port, url.path) == ("postgres", 5432, "/shop")
    assert url.path.lstrip("/") == postgres["POSTGRES_DB"]
    # Not the owner: the roles made by the migrate service (core/roles.py).
    role, password = LOGINS[service] if variable == "DATABASE_URL" else LOGINS["worker"]
    assert (url.username, url.password) == (role, OPERATOR_ENV[password])


SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")


@pytest.mark.parametrize("service", APP_SERVICES)
def test_the_cache_finds_its_master_through_the_three_sentinels(service):
    env = resolved_environment(service)
    url = urlsplit(env["REDIS_URL"])
    # Behind Sentinel, the URL's host is the name the sentinels monitor the master as.
    assert (url.scheme, url.hostname, url.port, url.path) == ("redis", "pgshop", None, "/0")
    assert env["REDIS_SENTINELS"].split(",") == [f"{name}:26379" for name in SENTINELS]
    for name in SENTINELS:
        assert SERVICES[service]["depends_on"][name]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", SENTINELS)
def test_each_sentinel_watches_the_redis_service_with_a_quorum_of_two(name):
    script = SERVICES[name]["command"][2]
    assert SERVICES[name]["image"] == "redis:7"
    assert "'sentinel monitor pgshop redis 6379 2'" in script
    assert "'sentinel down-after-milliseconds pgshop 5000'" in script
    assert script.rstrip().endswith("exec redis-sentinel /tmp/sentinel.conf")
    assert "redis-cli -p 26379 ping" in " ".join(SERVICES[name]["healthcheck"]["test"][1:])


def test_the_replica_replicates_the_redis_service():
    assert command("redis-replica")[-3:] == ["--replicaof", "redis", "6379"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_the_celery_broker_is_rabbitmq(service):
    url = urlsplit(resolved_environment(service)["CELERY_BROKER_URL"])
    rabbitmq = resolved_environment("rabbitmq")
    assert (url.scheme, url.hostname, url.port) == ("amqp", "rabbitmq", 5672)
    assert (url.username, url.password, url.path) == (
        rabbitmq["RABBITMQ_DEFAULT_USER"], rabbitmq["RABBITMQ_DEFAULT_PASS"],
        f"/{rabbitmq['RABBITMQ_DEFAULT_VHOST']}",
    )  # fmt: skip
    assert url.password == OPERATOR_ENV["RABBITMQ_PASSWORD"]
    assert SERVICES[service]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"


# --------------------------------------------------------------------------- secrets


SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|PRIVATE", re.IGNORECASE)


@pytest.mark.parametrize(
    "service", ["postgres", "redis", "rabbitmq", "migrate", "web", "worker", "beat"]
)
def test_secrets_come_from_required_variables(service):
    """Secrets are ${NAME:?message}: no literal value and no default in the file."""
    for key, value in environment(service).items():
        if SECRET_NAME.search(key):
            assert REQUIRED_REFERENCE.fullmatch(value), f"{service}: {key}={value!r}"
        if "://" in value and "@" in value:
            userinfo = value.split("://", 1)[1].rsplit("@", 1)[0]
            _, _, password = userinfo.partition(":")
            assert REQUIRED_REFERENCE.fullmatch(password), f"{service}: {key} has a password"


def test_the_secrets_that_must_be_required():
    for service in APP_SERVICES:
        assert REQUIRED_REFERENCE.fullmatch(environment(service)["SECRET_KEY"])
    assert REQUIRED_REFERENCE.fullmatch(environment("postgres")["POSTGRES_PASSWORD"])


@pytest.mark.parametrize(
    ("variable", "service"),
    [
        *[("SECRET_KEY", service) for service in APP_SERVICES],
        *[("ALLOWED_HOSTS", service) for service in APP_SERVICES],
        ("POSTGRES_PASSWORD", "postgres"),
        ("POSTGRES_PASSWORD", "migrate"),
        ("APP_DB_PASSWORD", "migrate"),
        ("APP_DB_PASSWORD", "web"),
        ("STAFF_DB_PASSWORD", "migrate"),
        *[("STAFF_DB_PASSWORD", service) for service in APP_SERVICES],
        ("RABBITMQ_PASSWORD", "rabbitmq"),
        *[("RABBITMQ_PASSWORD", service) for service in APP_SERVICES],
    ],
)
@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_compose_refuses_to_start_without(variable, service, value):
    env = {**OPERATOR_ENV, variable: value}
    if value is None:
        del env[variable]
    with pytest.raises(MissingVariable) as error:
        resolved_environment(service, env)
    assert error.value.name == variable


# --------------------------------------------------------------------------- volumes


def test_named_volumes_are_declared_and_mounted():
    declared = set(COMPOSE.get("volumes") or {})
    used = set()
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else str(volume).split(":")[0]
            if not source.startswith((".", "/", "~")):
                used.add(source)
    assert used <= declared
    assert declared == {
        "pgdata", "redisdata", "redisreplicadata", "rabbitmqdata",
        "etcddata", "patroni1", "patroni2", "patroni3",
    }  # fmt: skip
    # PostgreSQL 18+ images keep PGDATA in /var/lib/postgresql/18/docker: mount the parent.
    assert "pgdata:/var/lib/postgresql" in SERVICES["postgres"]["volumes"]
    assert "redisdata:/data" in SERVICES["redis"]["volumes"]


# --------------------------------------------------------------------------- the image


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), " ".join(rest.split())))
    return instructions


def test_dockerfile():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    assert "pip install --require-hashes --no-deps -r requirements-prod.lock" in runs
    assert any("manage.py collectstatic --no-input" in run for run in runs)
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users
    assert users[-1] not in {"root", "0", "0:0"}


def test_dockerignore_keeps_local_state_and_secrets_out():
    patterns = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".data", ".env"} <= patterns


# --------------------------------------------------------------------------- the cluster

CLUSTER_SERVICES = ("etcd", "patroni1", "patroni2", "patroni3", "haproxy", "pgbouncer")
CLUSTER_ENV = {
    **OPERATOR_ENV,
    "DB_HOST": "pgbouncer",
    "DB_PORT": "6432",
    "DB_DIRECT_HOST": "haproxy",
    "DB_DIRECT_PORT": "5000",
}


def test_the_failover_cluster_is_a_profile_of_its_own():
    for service in CLUSTER_SERVICES:
        assert SERVICES[service]["profiles"] == ["cluster"]
        assert SERVICES[service].get("healthcheck", {}).get("test")
    for service in ("postgres", "redis", "migrate", *APP_SERVICES):
        assert "profiles" not in SERVICES[service]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_with_the_cluster_the_app_connects_through_pgbouncer(service):
    for variable in ("DATABASE_URL", "STAFF_DATABASE_URL"):
        url = urlsplit(resolved_environment(service, CLUSTER_ENV)[variable])
        assert (url.hostname, url.port, url.path) == ("pgbouncer", 6432, "/shop")


def test_with_the_cluster_migrations_go_straight_to_the_leader():
    url = urlsplit(resolved_environment("migrate", CLUSTER_ENV)["DATABASE_URL"])
    assert (url.hostname, url.port, url.username) == ("haproxy", 5000, "shop")
    pgbouncer = SERVICES["migrate"]["depends_on"]["pgbouncer"]
    assert pgbouncer == {"condition": "service_healthy", "required": False}


def test_three_patroni_nodes_with_their_own_names_addresses_and_volumes():
    for n in (1, 2, 3):
        env = resolved_environment(f"patroni{n}")
        assert env["PATRONI_NAME"] == f"patroni{n}"
        assert env["PATRONI_POSTGRESQL_CONNECT_ADDRESS"] == f"patroni{n}:5432"
        assert env["PATRONI_RESTAPI_CONNECT_ADDRESS"] == f"patroni{n}:8008"
        assert env["PATRONI_ETCD3_HOSTS"] == "etcd:2379"
        assert env["PATRONI_SUPERUSER_PASSWORD"] == OPERATOR_ENV["POSTGRES_PASSWORD"]
        assert SERVICES[f"patroni{n}"]["volumes"] == [f"patroni{n}:/var/lib/postgresql"]
        assert command(f"patroni{n}") == ["patroni", "/etc/patroni/patroni.yml"]


def test_patroni_runs_synchronous_as_scripts_cluster_does(tmp_path):
    from scripts.cluster import Cluster

    compose = yaml.safe_load((ROOT / "docker" / "patroni" / "patroni.yml").read_text())
    cluster = Cluster(tmp_path, 1)
    cluster.dir.mkdir()
    local = yaml.safe_load(cluster._patroni_config("node1").read_text())
    keys = ("ttl", "loop_wait", "retry_timeout", "synchronous_mode", "synchronous_mode_strict")
    dcs, local_dcs = compose["bootstrap"]["dcs"], local["bootstrap"]["dcs"]
    assert {k: dcs[k] for k in keys} == {k: local_dcs[k] for k in keys}
    assert dcs["synchronous_mode"] is True
    assert dcs["postgresql"]["use_pg_rewind"] is dcs["postgresql"]["use_slots"] is True
    parameters = {k: str(v) for k, v in dcs["postgresql"]["parameters"].items()}
    local_parameters = {k: str(v) for k, v in local_dcs["postgresql"]["parameters"].items()}
    shared = set(local_parameters) - {
        "port",
        "max_wal_senders",
        "max_replication_slots",
        "hot_standby",
    }
    assert {k: parameters.get(k) for k in shared} == {k: local_parameters[k] for k in shared}


def test_haproxy_routes_by_patronis_checks():
    text = (ROOT / "docker" / "haproxy" / "haproxy.cfg").read_text()
    rw, ro = text.split("listen rw")[1].split("listen ro")
    assert "bind *:5000" in rw
    assert "option httpchk OPTIONS /primary" in rw
    assert "bind *:5001" in ro
    assert "option httpchk OPTIONS /replica" in ro
    for section in (rw, ro):
        assert "on-marked-down shutdown-sessions" in section
        for n in (1, 2, 3):
            assert f"server patroni{n} patroni{n}:5432 check port 8008" in section
    volume = "./docker/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"
    assert SERVICES["haproxy"]["volumes"] == [volume]


def test_pgbouncer_pools_transactions_in_front_of_the_leader():
    text = (ROOT / "docker" / "patroni" / "pgbouncer.ini").read_text()
    assert "shop = host=haproxy port=5000 dbname=shop\n" in text
    assert "pool_mode = transaction\n" in text
    assert "server_login_retry = 1\n" in text
    assert "listen_port = 6432\n" in text
    argv = command("pgbouncer")
    assert argv[-3:] == ["exec", "pgbouncer", "/etc/patroni/pgbouncer.ini"]


@pytest.mark.parametrize("service", CLUSTER_SERVICES)
def test_cluster_secrets_come_from_required_variables(service):
    for key, value in environment(service).items():
        if SECRET_NAME.search(key):
            assert REQUIRED_REFERENCE.fullmatch(value), f"{service}: {key}={value!r}"

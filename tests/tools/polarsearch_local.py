"""Run a single-node OpenSearch with ML Commons and the local model service on
127.0.0.1, for development and integration tests. Two profiles:

- plain (default): OpenSearch 3.6.0 with ML Commons, k-NN and neural-search
  3.6.0.0, plain HTTP, no security plugin;
- secure (--secure): OpenSearch 2.19.1 with the security plugin, ML Commons and
  Job Scheduler 2.19.1.0: HTTPS with the demo certificates, basic auth, ML
  Commons access control on, two non-admin ML users. Loopback only: the demo's
  reserved users answer with username = password.

Usage: polarsearch-local [--secure] up | down | status | logs [-n LINES]

`up` and `status` print lines a shell can eval; the plain profile's:

    POLARSEARCH_URL=http://127.0.0.1:9250
    MODEL_SERVICE_ENDPOINT=http://127.0.0.1:18080
    MODEL_SERVICE_API_KEY=local-dev-key-0001

The secure profile's: POLARSEARCH_PROFILE=secure, POLARSEARCH_URL=https://...,
POLARSEARCH_USERNAME, POLARSEARCH_PASSWORD (admin), POLARSEARCH_CA_PATH,
POLARSEARCH_ML_USER, POLARSEARCH_ML_PASSWORD, POLARSEARCH_ML_BACKEND_ROLE,
POLARSEARCH_ML_USER2, POLARSEARCH_ML_PASSWORD2, POLARSEARCH_ML_BACKEND_ROLE2
and the two model service lines.

Everything else goes to stderr. See docs/local-cluster.md.

Environment (plain profile):
  POLARSEARCH_URL             cluster URL to serve (loopback only); overrides
                              POLARSEARCH_LOCAL_PORT
  POLARSEARCH_LOCAL_PORT      HTTP port (default 9250)
  POLARSEARCH_LOCAL_TRANSPORT_PORT  transport port (default 9350)
  MODEL_SERVICE_ENDPOINT      http://host:port (or host:port) of the model
                              service (loopback only); overrides MODEL_SERVICE_PORT
  MODEL_SERVICE_PORT          model service port (default 18080)
Environment (secure profile; the plain profile's variables do not apply):
  POLARSEARCH_LOCAL_SECURE_PORT            HTTPS port (default 9260)
  POLARSEARCH_LOCAL_SECURE_TRANSPORT_PORT  transport port (default 9360)
  MODEL_SERVICE_SECURE_PORT                its model service's port (default 18090)
Both:
  MODEL_SERVICE_API_KEY       key the model service accepts
                              (default local-dev-key-0001)
  POLARSEARCH_LOCAL_CACHE     download cache (default ~/.cache/polarsearch-local)
  POLARSEARCH_LOCAL_HOME      state root; the nodes live in $POLARSEARCH_LOCAL_HOME/run
                              and .../run-secure (default ~/.cache/polarsearch-local)
  POLARSEARCH_LOCAL_TIMEOUT   seconds to wait for readiness (default 180)
  POLARSEARCH_LOCAL_MAVEN     Maven repository base URL
                              (default https://repo1.maven.org/maven2)
  OPENSEARCH_JAVA_HOME, JAVA_HOME  used when they point at a Java the profile
                              runs on (plain: 21+, secure: 17-23)
"""
import base64
import glob
import hashlib
import http.client
import importlib.util
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import ssl
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from urllib.parse import urlsplit

SCRIPT_DIR = os.path.dirname(os.path.realpath(__file__))
# the collection's reading of the IDs OpenSearch makes (standard library only)
GENERATED_IDS = os.path.join(SCRIPT_DIR, "..", "..", "plugins", "module_utils", "core", "generated_ids.py")
MODEL_SERVICE_SCRIPT = os.path.join(SCRIPT_DIR, "model_service.py")

DEFAULT_API_KEY = "local-dev-key-0001"
DEFAULT_TIMEOUT = 180
HEAP_OPTIONS = ["-Xms512m", "-Xmx1g"]
# the scratch index of the ID probe (``look_alike_terms``), made and deleted at once
ID_PROBE_INDEX = "polarsearch-local-id-probe"
# node starts to draw a part of the IDs without a term of its own (each draw: about 1 in 200 has one)
NODE_DRAWS = 3

CLUSTER_NAME = "polarsearch-local"
NODE_NAME = "polarsearch-local-0"
CHECKSUM_KINDS = ["sha512", "sha256", "sha1"]  # strongest first


def _artifact(key, path, version, sha512):
    return {"key": key, "path": path.format(v=version), "sha512": sha512}


class Profile:
    """What differs between the plain and the secure node."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


# SHA-512 of the artifacts as downloaded from Maven Central (each downloaded
# twice, same digest). Maven Central publishes .sha1/.sha256/.sha512 for the
# distribution zips but (as seen from here) no checksum files for any plugin
# zip, so these pinned values are what protects the plugin downloads.
# Published checksums are checked too when the repository offers them.
DIST = "org/opensearch/distribution/integ-test-zip/opensearch/{v}/opensearch-{v}.zip"
JOB_SCHEDULER = "org/opensearch/plugin/opensearch-job-scheduler/{v}/opensearch-job-scheduler-{v}.zip"
ML_PLUGIN = "org/opensearch/plugin/opensearch-ml-plugin/{v}/opensearch-ml-plugin-{v}.zip"

PLAIN = Profile(
    name="plain",
    opensearch_version="3.6.0",
    artifacts=[
        _artifact("opensearch", DIST, "3.6.0",
                  "b82066a97902879c47e26608848d068c09e74d2128edee2802e622867abd451d"
                  "34a366acc6519d0b40fc97acc89d61c5bb330ab8b2086cf6ffa0f9fe4b9acaa4"),
        _artifact("job-scheduler", JOB_SCHEDULER, "3.6.0.0",
                  "1472f24835591bd8f9227820e493dbee1b08b2cb64c4b04cc8ff4d946111f1ef"
                  "423517b69241edffe8dba4f68acc6694301d5d7cd6698b8160ec85c6d3fd1481"),
        _artifact("ml", ML_PLUGIN, "3.6.0.0",
                  "b88f244d98ffaca978a07324aaa49ab75f77b3b5219fab59c62891b572d90540"
                  "b4b00f0e657f4ed0ea80d3b757a03158cf7f8593c4959fc34dab703044009c9e"),
        _artifact("knn", "org/opensearch/plugin/opensearch-knn/{v}/opensearch-knn-{v}.zip",
                  "3.6.0.0",
                  "fc5152c44729e636e0efc31c97f339f18bc8401376f1ac0a404016b654ff5372"
                  "c2af01b37d537f234e9c132c0c39d576f02afc5da2bc0c38fa0c82c2cb47bb42"),
        _artifact("neural-search", "org/opensearch/plugin/neural-search/{v}/neural-search-{v}.zip",
                  "3.6.0.0",
                  "50f64822417ea5aac14c1fe3a12f592a9354a8264240b62c58bc58c7eb94f8ff"
                  "a7c6e7bd8fa9dd176251c4ca297611ecd935bf008f67b79d8b1fa1d0ccbe80ba"),
    ],
    # install order: job-scheduler before ML Commons (ML Commons extends it),
    # k-NN before neural-search (neural-search extends it)
    plugins=[("job-scheduler", "opensearch-job-scheduler"), ("ml", "opensearch-ml"),
             ("knn", "opensearch-knn"), ("neural-search", "opensearch-neural-search")],
    java_min=21, java_max=None,
    http_port=9250, transport_port=9350, model_port=18080,
    port_var="POLARSEARCH_LOCAL_PORT", transport_var="POLARSEARCH_LOCAL_TRANSPORT_PORT",
    model_port_var="MODEL_SERVICE_PORT", url_var="POLARSEARCH_URL",
    endpoint_var="MODEL_SERVICE_ENDPOINT",
    run_dir="run", secure=False,
)

SECURE = Profile(
    name="secure",
    opensearch_version="2.19.1",
    artifacts=[
        _artifact("opensearch", DIST, "2.19.1",
                  "0bed69daad3c80e1302a0dba083f04f5accbb94ba8451052822ec065d24432fe"
                  "096e329d6971758a8a021025b0302ee5b27eb5d89506853d8be736305f407651"),
        _artifact("job-scheduler", JOB_SCHEDULER, "2.19.1.0",
                  "781b3f4fcb5c713e492b146bf648fb111a507fb968c780e21efd8385e409064"
                  "932aa9df96d96976cc254fb037e3568399c027cbf5253985c7b7fc8f51a5e6283"),
        _artifact("security",
                  "org/opensearch/plugin/opensearch-security/{v}/opensearch-security-{v}.zip",
                  "2.19.1.0",
                  "89db39616847243fc02392c224164828caccd445ccf85143846ad1e382362f3"
                  "cf1ce22f87052631eff1fa573dd1d0e6a2e12a54fe8947674cee552b10b736b8a"),
        _artifact("ml", ML_PLUGIN, "2.19.1.0",
                  "0c4cf91c9c9a0442244acdca468a1745ba9936c2cac9125196a7ffc6b270e37"
                  "6f5e59286241c59735b85c640538a73362041a792877339edec685a80fb6da9c5"),
    ],
    # ML Commons extends job-scheduler and, optionally, the security plugin
    plugins=[("job-scheduler", "opensearch-job-scheduler"), ("security", "opensearch-security"),
             ("ml", "opensearch-ml")],
    # 2.x needs the SecurityManager, which Java 24 removed
    java_min=17, java_max=23,
    http_port=9260, transport_port=9360, model_port=18090,
    port_var="POLARSEARCH_LOCAL_SECURE_PORT",
    transport_var="POLARSEARCH_LOCAL_SECURE_TRANSPORT_PORT",
    model_port_var="MODEL_SERVICE_SECURE_PORT", url_var=None, endpoint_var=None,
    run_dir="run-secure", secure=True,
)

ADMIN_USER = "admin"
# Two non-admin users with ml_full_access and different backend roles, so tests
# can show what one can and cannot see of the other's objects.
ML_USERS = [("ml-user-a", "team_a"), ("ml-user-b", "team_b")]
ML_ROLE = "ml_full_access"
# ml_full_access does not grant reading pipelines, which the collection does
# before it deletes a model (to refuse deleting one a pipeline still uses): the
# ML users also get this read-only role, as the collection's docs advise.
PIPELINE_READ_ROLE = "polarsearch_pipeline_read"
PIPELINE_READ_PERMISSIONS = ["cluster:admin/ingest/pipeline/get", "cluster:admin/search/pipeline/get"]


class Failure(Exception):
    pass


def say(msg):
    sys.stderr.write("polarsearch-local: %s\n" % msg)
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

def _loopback_host(host, what):
    if host == "localhost":
        return "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise Failure("%s must use a loopback IP address, got %r" % (what, host))
    if not addr.is_loopback:
        raise Failure("%s must be a loopback address (127.0.0.0/8 or ::1), got %s" % (what, host))
    return str(addr)


def _int_env(name, default):
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        port = int(value)
    except ValueError:
        raise Failure("%s must be an integer, got %r" % (name, value))
    return port


def _check_port(port, name):
    if not 1 <= port <= 65535:
        raise Failure("%s out of range: %d" % (name, port))
    return port


class Config:
    def __init__(self, profile=PLAIN):
        self.profile = profile
        home = os.path.expanduser("~")
        self.cache = os.path.abspath(os.environ.get("POLARSEARCH_LOCAL_CACHE")
                                     or os.path.join(home, ".cache", "polarsearch-local"))
        root = os.path.abspath(os.environ.get("POLARSEARCH_LOCAL_HOME")
                               or os.path.join(home, ".cache", "polarsearch-local"))
        self.run = os.path.join(root, profile.run_dir)
        self.downloads = os.path.join(self.cache, "downloads")
        self.os_home = os.path.join(self.run, "opensearch-" + profile.opensearch_version)
        self.data = os.path.join(self.run, "data")
        self.logs = os.path.join(self.run, "logs")
        self.tmp = os.path.join(self.run, "tmp")
        self.os_pidfile = os.path.join(self.run, "opensearch.pid")
        self.ms_pidfile = os.path.join(self.run, "model_service.pid")
        self.statefile = os.path.join(self.run, "state.json")
        self.secretsfile = os.path.join(self.run, "secrets.json")
        self.os_stdout = os.path.join(self.logs, "opensearch-stdout.log")
        self.os_log = os.path.join(self.logs, CLUSTER_NAME + ".log")
        self.ms_log = os.path.join(self.logs, "model_service.log")
        self.ca_path = os.path.join(self.os_home, "config", "root-ca.pem")
        self.maven = (os.environ.get("POLARSEARCH_LOCAL_MAVEN")
                      or "https://repo1.maven.org/maven2").rstrip("/")
        self.timeout = _int_env("POLARSEARCH_LOCAL_TIMEOUT", DEFAULT_TIMEOUT)
        self.scheme = "https" if profile.secure else "http"

        # The addresses and key of a running instance are remembered in the
        # state file; they apply while it runs and an environment variable
        # does not say otherwise. After `down` the defaults apply again.
        recorded = {}
        if ours(read_pid(self.os_pidfile), self.os_home) \
                or ours(read_pid(self.ms_pidfile), MODEL_SERVICE_SCRIPT):
            recorded = read_state(self.statefile)
        self.recorded = recorded

        tvar = profile.transport_var
        if os.environ.get(tvar) or not recorded.get("transport_port"):
            self.transport_port = _check_port(_int_env(tvar, profile.transport_port), tvar)
        else:
            self.transport_port = recorded["transport_port"]

        url = os.environ.get(profile.url_var) if profile.url_var else None
        if url:
            parts = urlsplit(url)
            if parts.scheme != "http":
                raise Failure("%s must be http:// (the local node has no TLS): %s"
                              % (profile.url_var, url))
            self.os_host = _loopback_host(parts.hostname or "", profile.url_var)
            self.os_port = _check_port(parts.port or 80, profile.url_var + " port")
            self.url = url.rstrip("/")
            self.url_explicit = True
        else:
            self.url_explicit = bool(os.environ.get(profile.port_var))
            port = _int_env(profile.port_var, profile.http_port)
            if not self.url_explicit and recorded.get("url"):
                self.url = recorded["url"]
                self.os_host = recorded["os_host"]
                self.os_port = recorded["os_port"]
            else:
                self.os_host = "127.0.0.1"
                self.os_port = _check_port(port, profile.port_var)
                self.url = "%s://127.0.0.1:%d" % (self.scheme, self.os_port)

        endpoint = os.environ.get(profile.endpoint_var) if profile.endpoint_var else None
        if endpoint:
            ep = endpoint
            if "://" in ep:
                if urlsplit(ep).scheme != "http":
                    raise Failure("MODEL_SERVICE_ENDPOINT must be http:// (the model service has "
                                  "no TLS): %s" % endpoint)
                ep = urlsplit(ep).netloc
            ep = ep.rstrip("/")
            parts = urlsplit("//" + ep)
            if not parts.port:
                raise Failure("MODEL_SERVICE_ENDPOINT must be http://host:port, got %r" % endpoint)
            self.ms_host = _loopback_host(parts.hostname or "", "MODEL_SERVICE_ENDPOINT")
            self.ms_port = _check_port(parts.port, "MODEL_SERVICE_ENDPOINT port")
            self.endpoint = ep
            self.endpoint_explicit = True
        else:
            mvar = profile.model_port_var
            self.endpoint_explicit = bool(os.environ.get(mvar))
            port = _int_env(mvar, profile.model_port)
            if not self.endpoint_explicit and recorded.get("endpoint"):
                self.endpoint = recorded["endpoint"]
                self.ms_host = recorded["ms_host"]
                self.ms_port = recorded["ms_port"]
            else:
                self.ms_host = "127.0.0.1"
                self.ms_port = _check_port(port, mvar)
                self.endpoint = "127.0.0.1:%d" % self.ms_port

        key = os.environ.get("MODEL_SERVICE_API_KEY")
        self.key_explicit = bool(key)
        if not key:
            key = recorded.get("api_key") or DEFAULT_API_KEY
        self.api_key = key
        self.secrets = read_state(self.secretsfile) if profile.secure else {}

    def admin(self):
        """The cluster as its admin (no credentials on the plain node)."""
        auth = None
        if self.profile.secure:
            auth = (ADMIN_USER, self.secrets.get("admin_password", ""))
        return Node(self.os_host, self.os_port, self.scheme,
                    self.ca_path if self.profile.secure else None, auth)

    def lines(self):
        # with its scheme: each value is passed on as is (ml_stack_endpoint
        # reads a bare host:port as https)
        model_service = [
            ("MODEL_SERVICE_ENDPOINT", "http://" + self.endpoint),
            ("MODEL_SERVICE_API_KEY", self.api_key),
        ]
        if not self.profile.secure:
            pairs = [("POLARSEARCH_URL", self.url)] + model_service
        else:
            users = self.secrets.get("users") or []
            pairs = [
                ("POLARSEARCH_PROFILE", "secure"),
                ("POLARSEARCH_URL", self.url),
                ("POLARSEARCH_USERNAME", ADMIN_USER),
                ("POLARSEARCH_PASSWORD", self.secrets.get("admin_password", "")),
                ("POLARSEARCH_CA_PATH", self.ca_path),
            ]
            for index, user in enumerate(users):
                suffix = "" if index == 0 else str(index + 1)
                pairs += [
                    ("POLARSEARCH_ML_USER" + suffix, user["name"]),
                    ("POLARSEARCH_ML_PASSWORD" + suffix, user["password"]),
                    ("POLARSEARCH_ML_BACKEND_ROLE" + suffix, user["backend_role"]),
                ]
            pairs += model_service
        return ["%s=%s" % (k, shlex.quote(str(v))) for k, v in pairs]

    def record(self):
        write_state(self.statefile, {
            "url": self.url, "os_host": self.os_host, "os_port": self.os_port,
            "transport_port": self.transport_port,
            "endpoint": self.endpoint, "ms_host": self.ms_host, "ms_port": self.ms_port,
            "api_key": self.api_key,
        })


def new_password():
    """A password the security plugin's policy accepts (upper, lower, digit,
    special, long enough) and a shell can eval unquoted."""
    return "Pl-%s-9x" % secrets.token_urlsafe(18).replace("-", "_")


def ensure_secrets(cfg):
    """The admin and ML users' passwords of the secure node, made once per
    state directory and kept (mode 0600) so that a restart keeps them."""
    data = read_state(cfg.secretsfile)
    changed = False
    if not data.get("admin_password"):
        data["admin_password"] = new_password()
        changed = True
    users = {u["name"]: u for u in data.get("users") or []}
    wanted = []
    for name, role in ML_USERS:
        user = users.get(name) or {"name": name, "password": new_password()}
        if user.get("backend_role") != role:
            user["backend_role"] = role
            changed = True
        wanted.append(user)
    if [u["name"] for u in data.get("users") or []] != [u["name"] for u in wanted]:
        changed = True
    data["users"] = wanted
    if changed:
        write_state(cfg.secretsfile, data)
    cfg.secrets = data
    return data


def read_state(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def part_file(path):
    """A new, empty file beside ``path`` that only its caller writes (then moves to ``path``): nodes that
    start at once (scripts/test starts the benchmark's plain node beside the plain one) share the
    download cache."""
    fd, part = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".part", dir=os.path.dirname(path))
    os.close(fd)
    return part


def write_text(path, text):
    """Write ``text`` to ``path`` whole or not at all (see ``part_file``)."""
    part = part_file(path)
    with open(part, "w") as fh:
        fh.write(text)
    os.replace(part, path)


def write_state(path, data):
    """Write ``data`` as JSON, readable by its owner only (``part_file`` makes the file with mode 0600)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_text(path, json.dumps(data, indent=2))


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------

def read_pid(path):
    try:
        with open(path) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def _proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as fh:
            data = fh.read()
        return data.rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _proc_state(pid) not in ("Z", "X")


def ours(pid, marker):
    """True when pid is alive and its command line contains marker."""
    return alive(pid) and marker in _cmdline(pid)


def os_pid(cfg):
    pid = read_pid(cfg.os_pidfile)
    return pid if ours(pid, cfg.os_home) else None


def ms_pid(cfg):
    pid = read_pid(cfg.ms_pidfile)
    return pid if ours(pid, MODEL_SERVICE_SCRIPT) else None


def stop_process(pid, name, grace):
    """SIGTERM the process group led by pid (or pid alone), escalate to SIGKILL."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    use_group = pgid == pid

    def send(sig):
        try:
            if use_group:
                os.killpg(pgid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def group_alive():
        if alive(pid):
            return True
        if use_group:
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        if os.getpgid(int(entry)) == pgid and alive(int(entry)):
                            return True
                    except (ProcessLookupError, PermissionError):
                        pass
        return False

    say("stopping %s (pid %d)" % (name, pid))
    send(signal.SIGTERM)
    deadline = time.time() + grace
    while time.time() < deadline:
        if not group_alive():
            return
        time.sleep(0.25)
    say("%s did not stop within %ds, sending SIGKILL" % (name, grace))
    send(signal.SIGKILL)
    deadline = time.time() + 15
    while time.time() < deadline:
        if not group_alive():
            return
        time.sleep(0.2)
    raise Failure("%s (pid %d) is still running after SIGKILL" % (name, pid))


def port_in_use(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


# --------------------------------------------------------------------------
# HTTP helpers (loopback only)
# --------------------------------------------------------------------------

def http_json(host, port, method, path, body=None, timeout=10, scheme="http", ca_path=None,
              auth=None):
    """One request; the answer's status and parsed JSON body.

    HTTPS trusts exactly ``ca_path`` (with host name checking): the
    environment's CA bundle variables play no part here.
    """
    if scheme == "https":
        context = ssl.create_default_context(cafile=ca_path)
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Accept": "application/json"}
        if auth:
            token = base64.b64encode(("%s:%s" % auth).encode("utf-8")).decode("ascii")
            headers["Authorization"] = "Basic " + token
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return resp.status, parsed
    finally:
        conn.close()


def try_http(host, port, method, path, body=None, timeout=5):
    try:
        return http_json(host, port, method, path, body, timeout)
    except (OSError, http.client.HTTPException):
        return None, None


class Node:
    """The node's REST API as one user: plain HTTP, or HTTPS with the node's CA."""

    def __init__(self, host, port, scheme="http", ca_path=None, auth=None):
        self.host, self.port, self.scheme = host, port, scheme
        self.ca_path, self.auth = ca_path, auth

    def call(self, method, path, body=None, timeout=10):
        try:
            return http_json(self.host, self.port, method, path, body, timeout, self.scheme,
                             self.ca_path, self.auth)
        except (OSError, http.client.HTTPException) as exc:
            raise Failure("%s %s://%s:%d%s: %s"
                          % (method, self.scheme, self.host, self.port, path, exc))

    def try_call(self, method, path, body=None, timeout=5):
        """Like call, but (None, None) when the node does not answer (yet)."""
        try:
            return self.call(method, path, body, timeout)
        except Failure:
            return None, None


# --------------------------------------------------------------------------
# Java
# --------------------------------------------------------------------------

def java_major(java_home):
    java = os.path.join(java_home, "bin", "java")
    if not os.access(java, os.X_OK):
        return None
    release = os.path.join(java_home, "release")
    try:
        with open(release) as fh:
            m = re.search(r'^JAVA_VERSION="([^"]+)"', fh.read(), re.M)
        if m:
            return _major(m.group(1))
    except OSError:
        pass
    try:
        out = subprocess.run([java, "-version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=30, check=False).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "([^"]+)"', out)
    return _major(m.group(1)) if m else None


def _major(version):
    parts = version.split(".")
    try:
        if parts[0] == "1" and len(parts) > 1:
            return int(parts[1])
        return int(re.match(r"\d+", parts[0]).group(0))
    except (AttributeError, ValueError):
        return None


def java_range(profile):
    if profile.java_max:
        return "Java %d-%d" % (profile.java_min, profile.java_max)
    return "Java %d+" % profile.java_min


def find_java(profile=PLAIN):
    """The Java home to run the profile's node with: OPENSEARCH_JAVA_HOME or
    JAVA_HOME when it is in the profile's range, else the newest one in range
    found on this machine."""
    def fits(major):
        return bool(major) and major >= profile.java_min \
            and (profile.java_max is None or major <= profile.java_max)

    for var in ("OPENSEARCH_JAVA_HOME", "JAVA_HOME"):
        home = os.environ.get(var)
        if home:
            major = java_major(home)
            if fits(major):
                return home, major
            say("ignoring %s=%s (Java %s; OpenSearch %s needs %s)"
                % (var, home, major or "unknown", profile.opensearch_version,
                   java_range(profile)))
    candidates = []
    for java in glob.glob("/usr/lib/jvm/*/bin/java") + glob.glob("/usr/local/*/bin/java") \
            + glob.glob("/opt/*/bin/java"):
        home = os.path.realpath(os.path.dirname(os.path.dirname(java)))
        candidates.append(home)
    on_path = shutil.which("java")
    if on_path:
        candidates.append(os.path.dirname(os.path.dirname(os.path.realpath(on_path))))
    best = None
    for home in sorted(set(candidates)):
        major = java_major(home)
        if fits(major) and (best is None or major > best[1]):
            best = (home, major)
    if best is None:
        raise Failure("no %s found for OpenSearch %s (looked at OPENSEARCH_JAVA_HOME, JAVA_HOME, "
                      "/usr/lib/jvm/*, /usr/local/*, /opt/* and java on PATH). "
                      "Install one, or set OPENSEARCH_JAVA_HOME."
                      % (java_range(profile), profile.opensearch_version))
    return best


# --------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------

def _fetch(url, dest, timeout=60):
    req = urllib.request.Request(url, headers={"User-Agent": "polarsearch-local"})
    with urllib.request.urlopen(req, timeout=timeout) as resp, open(dest, "wb") as out:
        shutil.copyfileobj(resp, out, 1 << 20)


def _fetch_text(url):
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "polarsearch-local"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read().decode("ascii", "replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def published_checksums(cfg, art, dest):
    """Published checksum files, cached beside the artifact ``dest``: {kind: hex}.

    The repository is asked once per artifact; what it answered (including
    "nothing published") is remembered in the cache.
    """
    found = {}
    looked_up = dest + ".checksums"
    asked_before = os.path.exists(looked_up)
    for kind in CHECKSUM_KINDS:
        cached = dest + "." + kind
        text = None
        if os.path.exists(cached):
            with open(cached) as fh:
                text = fh.read()
        elif not asked_before:
            try:
                text = _fetch_text("%s/%s.%s" % (cfg.maven, art["path"], kind))
            except (OSError, urllib.error.URLError) as exc:
                say("could not fetch %s checksum for %s: %s" % (kind, art["key"], exc))
                text = None
            if text is not None:
                write_text(cached, text)
        if text:
            m = re.match(r"\s*([0-9a-fA-F]+)", text)
            if m:
                found[kind] = m.group(1).lower()
    published = ", ".join(k for k in CHECKSUM_KINDS if k in found) or "none"
    write_text(looked_up, "published: %s\n" % published)
    return found


def verify(cfg, art, path, dest):
    """Check ``path`` (the artifact that will live at ``dest``)."""
    published = published_checksums(cfg, art, dest)
    strongest = next((k for k in CHECKSUM_KINDS if k in published), None)
    kinds = {k for k in (strongest, "sha512" if art.get("sha512") else None) if k}
    if not kinds:
        raise Failure("%s: no checksum available to verify it" % os.path.basename(dest))
    hashes = {k: hashlib.new(k) for k in kinds}
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            for h in hashes.values():
                h.update(block)
    checked = []
    if strongest:
        if hashes[strongest].hexdigest() != published[strongest]:
            raise Failure("%s: %s does not match the published checksum"
                          % (os.path.basename(dest), strongest))
        checked.append("published " + strongest)
    if art.get("sha512"):
        if hashes["sha512"].hexdigest() != art["sha512"]:
            raise Failure("%s: sha512 does not match the pinned value" % os.path.basename(dest))
        checked.append("pinned sha512")
    return checked


def ensure_downloads(cfg):
    os.makedirs(cfg.downloads, exist_ok=True)
    paths = {}
    for art in cfg.profile.artifacts:
        dest = os.path.join(cfg.downloads, os.path.basename(art["path"]))
        marker = dest + ".verified"
        if os.path.exists(dest):
            st = os.stat(dest)
            stamp = "%d:%d" % (st.st_size, int(st.st_mtime))
            try:
                with open(marker) as fh:
                    ok = fh.read().strip() == stamp
            except OSError:
                ok = False
            if ok:
                paths[art["key"]] = dest
                continue
            try:
                checked = verify(cfg, art, dest, dest)
                say("cached %s verified (%s)" % (os.path.basename(dest), ", ".join(checked)))
            except Failure as exc:
                say("cached file is bad, downloading again: %s" % exc)
                os.unlink(dest)
        if not os.path.exists(dest):
            url = "%s/%s" % (cfg.maven, art["path"])
            say("downloading %s" % url)
            part = part_file(dest)
            try:
                _fetch(url, part, timeout=120)
            except (OSError, urllib.error.URLError) as exc:
                raise Failure("download of %s failed: %s" % (url, exc))
            try:
                checked = verify(cfg, art, part, dest)
            except Failure:
                os.unlink(part)
                raise
            os.replace(part, dest)
            say("verified %s (%s)" % (os.path.basename(dest), ", ".join(checked)))
        st = os.stat(dest)
        write_text(marker, "%d:%d\n" % (st.st_size, int(st.st_mtime)))
        paths[art["key"]] = dest
    return paths


# --------------------------------------------------------------------------
# Install
# --------------------------------------------------------------------------

def _install_stamp(profile):
    stamp = {
        "opensearch": profile.opensearch_version,
        "plugins": [entry[1] for entry in profile.plugins],
        "sha512": {a["key"]: a["sha512"] for a in profile.artifacts},
    }
    if profile.secure:
        stamp["security"] = "demo configuration"
    return stamp


def extract_zip(zpath, dest):
    with zipfile.ZipFile(zpath) as zf:
        for info in zf.infolist():
            target = os.path.realpath(os.path.join(dest, info.filename))
            if not target.startswith(os.path.realpath(dest) + os.sep):
                raise Failure("unsafe path in %s: %s" % (zpath, info.filename))
            zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode)


def java_env(java_home):
    env = dict(os.environ)
    env["OPENSEARCH_JAVA_HOME"] = java_home
    env["JAVA_HOME"] = java_home
    env.pop("OPENSEARCH_JAVA_OPTS", None)
    env.pop("OPENSEARCH_PATH_CONF", None)
    return env


def ensure_install(cfg, java_home, downloads):
    stamp_path = os.path.join(cfg.os_home, ".polarsearch-local-install.json")
    profile = cfg.profile
    if read_state(stamp_path) == _install_stamp(profile):
        return
    if os.path.exists(cfg.os_home):
        say("existing install in %s is incomplete or outdated, replacing it" % cfg.os_home)
        shutil.rmtree(cfg.os_home)
    os.makedirs(cfg.run, exist_ok=True)
    say("unpacking OpenSearch %s into %s" % (profile.opensearch_version, cfg.run))
    tmp = tempfile.mkdtemp(prefix=".unpack-", dir=cfg.run)
    try:
        extract_zip(downloads["opensearch"], tmp)
        os.replace(os.path.join(tmp, "opensearch-" + profile.opensearch_version), cfg.os_home)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    env = java_env(java_home)
    plugin_cli = os.path.join(cfg.os_home, "bin", "opensearch-plugin")
    for key, name in profile.plugins:
        say("installing plugin %s" % name)
        proc = subprocess.run([plugin_cli, "install", "--batch", "file://" + downloads[key]],
                              env=env, cwd=cfg.os_home, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout.decode("utf-8", "replace")[-4000:])
            raise Failure("installing %s failed (exit %d)" % (name, proc.returncode))
    listed = subprocess.run([plugin_cli, "list"], env=env, cwd=cfg.os_home,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    names = listed.stdout.decode("utf-8", "replace").split()
    for name in (entry[1] for entry in profile.plugins):
        if name not in names:
            raise Failure("plugin %s missing after install; `opensearch-plugin list` says: %s"
                          % (name, " ".join(names)))
    if profile.secure:
        install_demo_security(cfg, env)
    write_state(stamp_path, _install_stamp(profile))


SECURITY_BLOCK = ".polarsearch-local-security.yml"
SECURITY_START = "######## Start OpenSearch Security Demo Configuration ########"
SECURITY_END = "######## End OpenSearch Security Demo Configuration ########"
# keys of the demo block that write_config sets itself (a key twice is an error)
SECURITY_OVERRIDES = ("plugins.security.audit.type",)


def install_demo_security(cfg, env):
    """The security plugin's demo configuration: TLS certificates (CA in
    config/root-ca.pem; the node certificate covers localhost, 127.0.0.1 and
    ::1), the admin password, and the settings block it appends to
    opensearch.yml. write_config rewrites opensearch.yml on every `up`, so the
    block is kept aside and appended each time."""
    say("installing the security plugin's demo configuration (TLS, admin user)")
    tool = os.path.join(cfg.os_home, "plugins", "opensearch-security", "tools",
                        "install_demo_configuration.sh")
    env = dict(env)
    env["OPENSEARCH_INITIAL_ADMIN_PASSWORD"] = cfg.secrets["admin_password"]
    proc = subprocess.run(["bash", tool, "-y", "-i", "-s"], env=env, cwd=cfg.os_home,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    output = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        sys.stderr.write(output.replace(cfg.secrets["admin_password"], "********")[-4000:])
        raise Failure("the security demo configuration failed (exit %d)" % proc.returncode)
    with open(os.path.join(cfg.os_home, "config", "opensearch.yml")) as fh:
        text = fh.read()
    if SECURITY_START not in text or SECURITY_END not in text:
        raise Failure("the security demo configuration wrote no settings block to opensearch.yml")
    block = text[text.index(SECURITY_START):text.index(SECURITY_END) + len(SECURITY_END)]
    kept = [line for line in block.splitlines()
            if not line.startswith(tuple(key + ":" for key in SECURITY_OVERRIDES))]
    with open(os.path.join(cfg.os_home, SECURITY_BLOCK), "w") as fh:
        fh.write("\n".join(kept) + "\n")
    if not os.path.exists(cfg.ca_path):
        raise Failure("the security demo configuration left no CA at %s" % cfg.ca_path)


def write_config(cfg):
    conf = os.path.join(cfg.os_home, "config")
    os.makedirs(cfg.data, exist_ok=True)
    os.makedirs(cfg.logs, exist_ok=True)
    settings = [
        ("cluster.name", CLUSTER_NAME),
        ("node.name", NODE_NAME),
        ("network.host", cfg.os_host),
        ("http.port", str(cfg.os_port)),
        ("transport.port", str(cfg.transport_port)),
        ("discovery.type", "single-node"),
        ("path.data", cfg.data),
        ("path.logs", cfg.logs),
        # meant to give new indices no replicas on one node; 3.6.0 ignores it
        # for indices created through the REST API (see docs/local-cluster.md)
        ("cluster.default_number_of_replicas", "0"),
        # a dev machine's disk may be fuller than the production watermarks allow
        ("cluster.routing.allocation.disk.threshold_enabled", "false"),
        # development node settings, as the ML Commons integration tests use
        ("plugins.ml_commons.only_run_on_ml_node", "false"),
        ("plugins.ml_commons.jvm_heap_memory_threshold", "100"),
        ("plugins.ml_commons.native_memory_threshold", "100"),
    ]
    if cfg.profile.secure:
        settings += [
            # what a production PolarSearch runs with: each user's connectors
            # and model groups are theirs, shared by backend role
            ("plugins.ml_commons.model_access_control_enabled", "true"),
            ("plugins.ml_commons.connector_access_control_enabled", "true"),
            # the audit index is created with a replica and turns one node yellow
            ("plugins.security.audit.type", "noop"),
        ]
    lines = ["# Written by scripts/polarsearch-local; rewritten on every `up`."]
    lines += ["%s: %s" % (k, json.dumps(v)) for k, v in settings]
    if cfg.profile.secure:
        with open(os.path.join(cfg.os_home, SECURITY_BLOCK)) as fh:
            lines += ["", fh.read().rstrip("\n")]
    with open(os.path.join(conf, "opensearch.yml"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.makedirs(os.path.join(conf, "jvm.options.d"), exist_ok=True)
    with open(os.path.join(conf, "jvm.options.d", "polarsearch-local.options"), "w") as fh:
        fh.write("\n".join(HEAP_OPTIONS + ["-XX:HeapDumpPath=" + cfg.logs]) + "\n")


# --------------------------------------------------------------------------
# Start / wait
# --------------------------------------------------------------------------

def start_model_service(cfg):
    if port_in_use(cfg.ms_host, cfg.ms_port):
        raise Failure("port %s:%d is already in use by another process"
                      % (cfg.ms_host, cfg.ms_port))
    os.makedirs(cfg.logs, exist_ok=True)
    env = dict(os.environ)
    env["MODEL_SERVICE_API_KEY"] = cfg.api_key  # keeps the key off the command line
    with open(cfg.ms_log, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, MODEL_SERVICE_SCRIPT, "--host", cfg.ms_host,
             "--port", str(cfg.ms_port), "--verbose"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=cfg.run,
            start_new_session=True, close_fds=True)
    with open(cfg.ms_pidfile, "w") as fh:
        fh.write("%d\n" % proc.pid)
    say("model service started (pid %d) on %s" % (proc.pid, cfg.endpoint))
    return proc.pid


def non_root_prefix():
    """OpenSearch refuses to start as root. When this script runs as root,
    start the node in a new user namespace where it sees an ordinary uid; the
    kernel still treats it as the invoking user for file access, so the state
    directory needs no ownership change."""
    if os.geteuid() != 0:
        return []
    prefix = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]
    if shutil.which("unshare"):
        probe = subprocess.run(prefix + ["true"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False)
        if probe.returncode == 0:
            return prefix
    raise Failure("OpenSearch refuses to run as root and `unshare --user` (util-linux) is not "
                  "usable here; run this script as an unprivileged user")


def start_opensearch(cfg, java_home):
    for port in (cfg.os_port, cfg.transport_port):
        if port_in_use(cfg.os_host, port):
            raise Failure("port %s:%d is already in use by another process" % (cfg.os_host, port))
    env = java_env(java_home)
    env["OPENSEARCH_TMPDIR"] = cfg.tmp
    shutil.rmtree(cfg.tmp, ignore_errors=True)
    os.makedirs(cfg.tmp)
    prefix = non_root_prefix()
    if prefix:
        say("running as root: starting OpenSearch in a user namespace as uid 1000")
    with open(cfg.os_stdout, "ab") as log:
        proc = subprocess.Popen(
            prefix + [os.path.join(cfg.os_home, "bin", "opensearch"), "-p", cfg.os_pidfile],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=cfg.os_home,
            start_new_session=True, close_fds=True)
    # OpenSearch writes the pid file itself once it is up; write it now so that
    # `down` can find a node that is still starting.
    with open(cfg.os_pidfile, "w") as fh:
        fh.write("%d\n" % proc.pid)
    say("OpenSearch %s started (pid %d, Java %s)"
        % (cfg.profile.opensearch_version, proc.pid, java_home))
    return proc.pid


def ml_ready(cfg):
    status = cfg.admin().try_call("POST", "/_plugins/_ml/connectors/_search",
                                  {"size": 0, "query": {"match_all": {}}})[0]
    return status == 200


def cluster_status(cfg):
    status, body = cfg.admin().try_call("GET", "/_cluster/health")
    if status == 200 and isinstance(body, dict):
        return body.get("status")
    return None


def model_service_ready(cfg):
    status = try_http(cfg.ms_host, cfg.ms_port, "GET", "/health", timeout=2)[0]
    return status == 200


def effective_ml_settings(cfg):
    status, body = cfg.admin().try_call(
        "GET", "/_cluster/settings?flat_settings=true&include_defaults=true")
    if status != 200 or not isinstance(body, dict):
        return {}
    merged = {}
    for section in ("defaults", "persistent", "transient"):
        merged.update(body.get(section) or {})
    return merged


def gone(probe, checks=4, pause=0.5):
    """True when ``probe`` finds no process several times in a row.

    OpenSearch rewrites its pid file while it starts, so one empty read proves nothing.
    """
    for attempt in range(checks):
        if probe():
            return False
        if attempt < checks - 1:
            time.sleep(pause)
    return True


def wait_ready(cfg, started):
    deadline = started + cfg.timeout
    yellow_since = None
    while True:
        now = time.time()
        if gone(lambda: os_pid(cfg)):
            raise Failure("OpenSearch exited during start-up")
        if not ms_pid(cfg):
            raise Failure("the model service exited during start-up")
        health = cluster_status(cfg)
        if health == "green" and ml_ready(cfg) and model_service_ready(cfg):
            return "green"
        if health == "yellow" and ml_ready(cfg) and model_service_ready(cfg):
            # a single node cannot host replicas; accept yellow after a while
            yellow_since = yellow_since or now
            if now - yellow_since > 30:
                return "yellow"
        if now > deadline:
            raise Failure("not ready after %ds (cluster health: %s, ML Commons: %s, "
                          "model service: %s)"
                          % (cfg.timeout, health or "unreachable",
                             "ok" if ml_ready(cfg) else "not answering",
                             "ok" if model_service_ready(cfg) else "not answering"))
        time.sleep(1)


def node_terms(generated_id):
    """``generated_ids.node_terms`` of the collection: the terms every ID of the node shares."""
    spec = importlib.util.spec_from_file_location("generated_ids", GENERATED_IDS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.node_terms(generated_id)


def look_alike_terms(cfg):
    """The terms every ID the node makes shares (none on most nodes), from the ID of a document indexed
    without one into a scratch index (deleted again). OpenSearch draws the node's part of its IDs at
    random when it starts; when that part holds two '-' with characters between them, ML Commons, which
    matches connector IDs as analyzed text, counts every model as a user of every connector the node made
    (docs/local-cluster.md, "Connector IDs that share a term")."""
    node = cfg.admin()
    status, body = node.try_call("POST", "/%s/_doc" % ID_PROBE_INDEX, {"probe": True})
    node.try_call("DELETE", "/" + ID_PROBE_INDEX)
    if status not in (200, 201) or not isinstance(body, dict) or "_id" not in body:
        raise Failure("could not index the ID probe into %s: %s %s" % (ID_PROBE_INDEX, status, body))
    return node_terms(body["_id"])


def draw_node_part(cfg, java_home, launched, health):
    """Restart OpenSearch (at most ``NODE_DRAWS`` starts in all) while every ID it makes shares a term;
    the cluster health once it makes IDs that do not."""
    for draw in range(1, NODE_DRAWS + 1):
        own = look_alike_terms(cfg)
        if not own:
            return health
        if draw == NODE_DRAWS:
            break
        say("every ID this node makes holds the term(s) %s (its part of the IDs, drawn at start, holds two '-'): "
            "restarting it to draw another part" % ", ".join(sorted(own)))
        stop_process(os_pid(cfg), "OpenSearch", 60)
        launched[:] = [entry for entry in launched if entry[0] != "OpenSearch"]
        launched.append(("OpenSearch", start_opensearch(cfg, java_home), 60))
        health = wait_ready(cfg, time.time())
    raise Failure("every ID the node makes holds the term(s) %s after %d starts" % (", ".join(sorted(own)), draw))


def check_ml_settings(cfg):
    wanted = {
        "plugins.ml_commons.only_run_on_ml_node": "false",
        "plugins.ml_commons.jvm_heap_memory_threshold": "100",
        "plugins.ml_commons.native_memory_threshold": "100",
    }
    if cfg.profile.secure:
        wanted["plugins.ml_commons.model_access_control_enabled"] = "true"
        wanted["plugins.ml_commons.connector_access_control_enabled"] = "true"
    have = effective_ml_settings(cfg)
    wrong = {k: have.get(k) for k, v in wanted.items() if have.get(k) != v}
    if wrong:
        say("setting the development ML Commons settings (found %s)" % wrong)
        status, body = cfg.admin().try_call("PUT", "/_cluster/settings", {"persistent": wanted})
        if status != 200:
            raise Failure("could not apply ML Commons settings: %s %s" % (status, body))


def ensure_ml_users(cfg):
    """The secure node's two non-admin ML users, made through the security REST
    API as admin: each with its password and backend role, both mapped to
    ml_full_access and to a role that may read ingest and search pipelines.
    Repeated on every `up` (the answers are idempotent)."""
    node = cfg.admin()
    users = cfg.secrets["users"]
    for user in users:
        status, body = node.call("PUT", "/_plugins/_security/api/internalusers/" + user["name"],
                                 {"password": user["password"],
                                  "backend_roles": [user["backend_role"]],
                                  "description": "polarsearch-local ML user"})
        if status not in (200, 201):
            raise Failure("creating user %s failed: HTTP %s %s" % (user["name"], status, body))
    status, body = node.call("PUT", "/_plugins/_security/api/roles/" + PIPELINE_READ_ROLE,
                             {"cluster_permissions": PIPELINE_READ_PERMISSIONS})
    if status not in (200, 201):
        raise Failure("creating role %s failed: HTTP %s %s" % (PIPELINE_READ_ROLE, status, body))
    for role in (ML_ROLE, PIPELINE_READ_ROLE):
        status, body = node.call("PUT", "/_plugins/_security/api/rolesmapping/" + role,
                                 {"users": [u["name"] for u in users], "backend_roles": [],
                                  "hosts": []})
        if status not in (200, 201):
            raise Failure("mapping %s failed: HTTP %s %s" % (role, status, body))
    for user in users:
        me = Node(cfg.os_host, cfg.os_port, cfg.scheme, cfg.ca_path,
                  (user["name"], user["password"]))
        status, body = me.call("GET", "/_plugins/_security/authinfo")
        roles = body.get("roles", []) if isinstance(body, dict) else []
        if status != 200 or ML_ROLE not in roles:
            raise Failure("user %s cannot log in with %s (HTTP %s, roles %s)"
                          % (user["name"], ML_ROLE, status, roles))
    say("ML users %s (backend roles %s) have %s"
        % (", ".join(u["name"] for u in users),
           ", ".join(u["backend_role"] for u in users), ML_ROLE))


# a connector to an endpoint in the server's default trusted list; it is never called
WARM_UP_CONNECTOR = {
    "name": "polarsearch-local-warm-up",
    "description": "made and deleted by polarsearch-local up",
    "version": "1",
    "protocol": "http",
    "parameters": {"model": "warm-up"},
    "credential": {"api_key": "warm-up"},
    "actions": [{"action_type": "predict", "method": "POST",
                 "url": "https://api.openai.com/v1/chat/completions",
                 "request_body": "{ \"model\": \"${parameters.model}\" }"}],
}


def warm_up_ml(cfg, deadline):
    """Create and delete a connector as admin, so that ML Commons has fetched
    its master key before the first user request: right after a restart the
    first request that encrypts can fail with 500 "Fetching master key timed
    out" and succeed seconds later."""
    node = cfg.admin()
    started = time.time()
    last = None
    while True:
        status, body = node.try_call("POST", "/_plugins/_ml/connectors/_create",
                                     WARM_UP_CONNECTOR, timeout=30)
        if status == 200 and isinstance(body, dict) and body.get("connector_id"):
            node.try_call("DELETE", "/_plugins/_ml/connectors/" + body["connector_id"])
            say("ML Commons encrypts (warm-up connector made and deleted in %.1fs)"
                % (time.time() - started))
            return
        last = (status, body)
        if time.time() > deadline:
            raise Failure("ML Commons could not create a connector: HTTP %s %s" % last)
        time.sleep(2)


def tail(path, lines=60):
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read().decode("utf-8", "replace").splitlines()
        return "\n".join(data[-lines:])
    except OSError as exc:
        return "(cannot read %s: %s)" % (path, exc)


def dump_logs(cfg, lines=60):
    for path in (cfg.os_log, cfg.os_stdout, cfg.ms_log):
        if os.path.exists(path):
            sys.stderr.write("----- last %d lines of %s -----\n" % (lines, path))
            sys.stderr.write(tail(path, lines) + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------

def check_conflicts(cfg, recorded):
    """When something already runs, refuse an explicitly different address/key."""
    diffs = []
    if cfg.url_explicit and recorded.get("url") and recorded["url"] != cfg.url:
        diffs.append("POLARSEARCH_URL (running: %s)" % recorded["url"])
    if cfg.endpoint_explicit and recorded.get("endpoint") and recorded["endpoint"] != cfg.endpoint:
        diffs.append("MODEL_SERVICE_ENDPOINT (running: %s)" % recorded["endpoint"])
    if cfg.key_explicit and recorded.get("api_key") and recorded["api_key"] != cfg.api_key:
        diffs.append("MODEL_SERVICE_API_KEY")
    if diffs:
        raise Failure("already running with a different %s; run `down` first"
                      % ", ".join(diffs))


def cmd_up(cfg):
    recorded = cfg.recorded
    running_os = os_pid(cfg)
    running_ms = ms_pid(cfg)
    if running_os or running_ms:
        check_conflicts(cfg, recorded)
    if running_os and running_ms and cluster_status(cfg) in ("green", "yellow") \
            and ml_ready(cfg) and model_service_ready(cfg):
        say("already running (OpenSearch pid %d, model service pid %d)"
            % (running_os, running_ms))
        print("\n".join(cfg.lines()))
        return 0

    # fail fast on ports taken by something else
    if not running_ms and port_in_use(cfg.ms_host, cfg.ms_port):
        raise Failure("port %s:%d (model service) is already in use by another process"
                      % (cfg.ms_host, cfg.ms_port))
    if not running_os:
        for port in (cfg.os_port, cfg.transport_port):
            if port_in_use(cfg.os_host, port):
                raise Failure("port %s:%d (OpenSearch) is already in use by another process"
                              % (cfg.os_host, port))

    started = time.time()
    java_home = None
    if cfg.profile.secure:
        ensure_secrets(cfg)
    if not running_os:
        java_home, major = find_java(cfg.profile)
        say("using Java %d at %s" % (major, java_home))
        downloads = ensure_downloads(cfg)
        ensure_install(cfg, java_home, downloads)
        write_config(cfg)
    os.makedirs(cfg.logs, exist_ok=True)
    cfg.record()
    launched = []
    launch = time.time()  # the readiness timeout counts from here, not from downloads
    try:
        if not running_ms:
            launched.append(("model service", start_model_service(cfg), 10))
        if not running_os:
            launched.append(("OpenSearch", start_opensearch(cfg, java_home), 60))
        say("waiting up to %ds for the cluster, ML Commons and the model service"
            % cfg.timeout)
        health = wait_ready(cfg, launch)
        if not running_os:
            health = draw_node_part(cfg, java_home, launched, health)
        check_ml_settings(cfg)
        if cfg.profile.secure:
            ensure_ml_users(cfg)
            warm_up_ml(cfg, time.time() + 120)
    except (Failure, KeyboardInterrupt) as exc:
        say("start failed: %s" % (exc or "interrupted"))
        dump_logs(cfg)
        for name, pid, grace in reversed(launched):
            if alive(pid):
                try:
                    stop_process(pid, name, grace)
                except Failure as stop_exc:
                    say(str(stop_exc))
        if not os_pid(cfg) and not ms_pid(cfg):
            for path in (cfg.ms_pidfile, cfg.os_pidfile, cfg.statefile):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        return 1
    say("ready in %.1fs, %.1fs after the start (%s profile, OpenSearch %s, cluster health %s)"
        % (time.time() - started, time.time() - launch, cfg.profile.name,
           cfg.profile.opensearch_version, health))
    print("\n".join(cfg.lines()))
    sys.stdout.flush()
    return 0


def cmd_down(cfg):
    stopped = False
    pid = read_pid(cfg.ms_pidfile)
    if pid and ours(pid, MODEL_SERVICE_SCRIPT):
        stop_process(pid, "model service", 10)
        stopped = True
    pid = read_pid(cfg.os_pidfile)
    if pid and ours(pid, cfg.os_home):
        stop_process(pid, "OpenSearch", 60)
        stopped = True
    for path in (cfg.ms_pidfile, cfg.os_pidfile, cfg.statefile):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    say("stopped" if stopped else "nothing was running")
    return 0


def cmd_status(cfg):
    rc = 0
    pid = os_pid(cfg)
    if pid:
        health = cluster_status(cfg)
        ml = ml_ready(cfg)
        say("OpenSearch %s: running, pid %d, %s, cluster health %s, ML Commons %s"
            % (cfg.profile.opensearch_version, pid, cfg.url, health or "unreachable",
               "answering" if ml else "not answering"))
        if health not in ("green", "yellow") or not ml:
            rc = 1
    else:
        say("OpenSearch: not running")
        rc = 3
    pid = ms_pid(cfg)
    if pid:
        ok = model_service_ready(cfg)
        say("model service: running, pid %d, %s, %s"
            % (pid, cfg.endpoint, "healthy" if ok else "not answering"))
        if not ok and rc == 0:
            rc = 1
    else:
        say("model service: not running")
        rc = 3 if rc in (0, 3) else rc
    if rc != 3:
        print("\n".join(cfg.lines()))
    return rc


def cmd_logs(cfg, lines):
    dump_logs(cfg, lines)
    return 0


def main(argv):
    profile = PLAIN
    if "--secure" in argv:
        profile = SECURE
        argv = [arg for arg in argv if arg != "--secure"]
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stderr.write(__doc__)
        return 0 if argv else 2
    cmd = argv[0]
    try:
        cfg = Config(profile)
        if cmd == "up":
            return cmd_up(cfg)
        if cmd == "down":
            return cmd_down(cfg)
        if cmd == "status":
            return cmd_status(cfg)
        if cmd == "logs":
            lines = 60
            if len(argv) >= 3 and argv[1] == "-n":
                lines = int(argv[2])
            return cmd_logs(cfg, lines)
    except Failure as exc:
        say("error: %s" % exc)
        return 1
    except KeyboardInterrupt:
        return 130
    say("unknown command %r (use up, down, status or logs)" % cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

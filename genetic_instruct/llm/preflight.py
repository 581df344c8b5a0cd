"""Check each engine before anything is written: a wrong URL, model name, key or folder is
the user's to fix, and costs one line and exit 2, not a run of "failed" offspring.

OpenAI-compatible servers: GET {base_url}/models must answer 200 with the configured model
among the served ids (a 401/403 means the key was refused). Offline vLLM: a local folder must
hold a config and weights; a hub id (`Qwen/Qwen2.5-Coder-7B-Instruct`) must resolve its
config.json the way vLLM will, through huggingface_hub (HF_HOME's cache, HF_TOKEN, offline
only when the user sets HF_HUB_OFFLINE). The standard library's HTTP client is enough for
one request per URL, and it keeps this check free of the engine's own event loop. Like the
engine it trusts the server with nothing: no redirect is followed (the key would go along),
and no more of the answer is read than a model list can take.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from genetic_instruct.config import (
    EMBEDDED_MODEL,
    Config,
    EngineKind,
    ExecutorKind,
    ModelConfig,
    roles_in_use,
)
from genetic_instruct.errors import ConfigError, InputError
from genetic_instruct.llm.openai_wire import redirect_refused

PREFLIGHT_TIMEOUT_S = 20.0
# A hosted API lists a few hundred models with their descriptions in about 1 MB.
MAX_MODELS_BYTES = 16 * 2**20
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


class EngineUnavailable(InputError):
    """An engine cannot be used as configured; the message names the key, URL or folder."""


def check_engines(cfg: Config, skip: Iterable[str] = ()) -> None:
    """Raise EngineUnavailable for the first model (by key) that cannot serve its roles.

    `skip` names models whose engines the caller already holds (tests share loaded ones).
    """
    used = {getattr(cfg.roles, role).model for role in roles_in_use(cfg)}
    for key in sorted(used - set(skip)):
        model = cfg.models[key]
        if model.engine == EngineKind.openai:
            api_key = read_api_key(model, f"models.{key}.api_key_env")
            for i, url in enumerate(model.base_urls):
                check_server(f"models.{key}.base_urls[{i}]", url, model, api_key)
        elif model.engine == EngineKind.vllm and cfg.executor.kind == ExecutorKind.local:
            check_model_source(f"models.{key}.path", model.path)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx comes back as the HTTPError it is, instead of being followed with the key."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def check_server(where: str, base_url: str, model: ModelConfig, api_key: str | None) -> None:
    url = base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        opener = urllib.request.build_opener(_NoRedirect)  # proxies as urlopen reads them
        with opener.open(request, timeout=PREFLIGHT_TIMEOUT_S) as response:
            raw = response.read(MAX_MODELS_BYTES + 1)
        if len(raw) > MAX_MODELS_BYTES:
            raise EngineUnavailable(
                f"{where} {base_url}: answered /models with more than {MAX_MODELS_BYTES} bytes"
            )
        body = json.loads(raw or b"{}")
    except urllib.error.HTTPError as error:
        if 300 <= error.code < 400:
            location = error.headers.get("Location")
            raise EngineUnavailable(
                f"{where} {redirect_refused(url, error.code, location)}"
            ) from None
        raise EngineUnavailable(f"{where} {base_url}: {_http_cause(error.code, model)}") from None
    except (urllib.error.URLError, OSError, ValueError, RecursionError) as error:
        raise EngineUnavailable(f"{where} {base_url}: {_network_cause(error)}") from None
    except http.client.HTTPException as error:  # a status line or a header no HTTP has
        raise EngineUnavailable(
            f"{where} {base_url}: answered /models with something that is not HTTP "
            f"({type(error).__name__})"
        ) from None
    served = _served_ids(body)
    if served is not None and model.path not in served:
        # The server's words, escaped and cut: they end up on the user's terminal.
        names = ", ".join(ascii(name[:80]) for name in sorted(served)[:10]) or "none"
        raise EngineUnavailable(
            f"{where} {base_url}: model {model.path!r} is not served there (models.*.path); "
            f"it serves: {names}"
        )


def check_model_source(where: str, path: str) -> None:
    """A model as vLLM takes it: the embedded name, a local folder or a hub id."""
    if path == EMBEDDED_MODEL:
        return  # converted from the installed package when the engine loads
    folder = Path(path).expanduser()
    if folder.exists() or _looks_like_a_path(path):
        check_model_folder(where, folder)
    else:
        check_hub_model(where, path)


def _looks_like_a_path(path: str) -> bool:
    """A hub id is `name` or `org/name`; anything else is meant as a folder."""
    return path.startswith(("/", ".", "~")) or path.count("/") > 1 or "\\" in path


def check_model_folder(where: str, folder: Path) -> None:
    if not folder.is_dir():
        raise EngineUnavailable(
            f"{where} {folder}: no such folder (a model is a local folder, a hub id such as "
            "Qwen/Qwen2.5-Coder-7B-Instruct, or embedded:smollm2-135m-instruct)"
        )
    if not (folder / "config.json").is_file():
        raise EngineUnavailable(f"{where} {folder}: no config.json, so not a model folder")
    if not any(p.suffix in _WEIGHT_SUFFIXES for p in folder.iterdir()):
        raise EngineUnavailable(
            f"{where} {folder}: no weights (*.safetensors, *.bin) in the folder"
        )


def check_hub_model(where: str, repo_id: str) -> None:
    """Fetch (or find in the cache) the model's config.json, as vLLM's loader will."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    try:
        hf_hub_download(repo_id, "config.json")
    except HFValidationError:
        raise EngineUnavailable(
            f"{where} {repo_id}: neither a local folder nor a Hugging Face hub id (org/name)"
        ) from None
    except LocalEntryNotFoundError:
        why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "the hub is unreachable"
        raise EngineUnavailable(
            f"{where} {repo_id}: not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and "
            f"{why}; download it where the hub is reachable (hf download {repo_id}) or give "
            "a local folder"
        ) from None
    except GatedRepoError:
        raise EngineUnavailable(
            f"{where} {repo_id}: a gated model; accept its terms on the hub and set HF_TOKEN "
            "to a token with access"
        ) from None
    except RepositoryNotFoundError:
        raise EngineUnavailable(
            f"{where} {repo_id}: no such model on the Hugging Face hub (or private: set HF_TOKEN)"
        ) from None
    except OSError as error:
        raise EngineUnavailable(f"{where} {repo_id}: cannot fetch from the hub ({error})") from None


def read_api_key(model: ModelConfig, key_name: str = "models.*.api_key_env") -> str | None:
    """The key from the variable NAMED in config: the config itself never holds a secret."""
    if model.api_key_env is None:
        return None  # a local server without authentication
    key = os.environ.get(model.api_key_env)
    if not key:
        raise ConfigError(
            f"config key {key_name}: environment variable {model.api_key_env} is not set "
            f"(it should hold the API key for {model.path!r}; a server without "
            "authentication needs api_key_env=null)"
        )
    return key


def _http_cause(status: int, model: ModelConfig) -> str:
    if status in (401, 403):
        return (
            f"the API key was refused (HTTP {status}); it is read from the environment "
            f"variable {model.api_key_env} (models.*.api_key_env)"
        )
    if status == 404:
        return "HTTP 404 for /models: not an OpenAI-compatible API root (it should end in /v1)"
    return f"HTTP {status} for /models"


def _network_cause(error: BaseException) -> str:
    reason = getattr(error, "reason", error)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the server running, on this port?)"
    if isinstance(reason, socket.gaierror):
        return f"host name not found ({reason.strerror})"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no answer within {PREFLIGHT_TIMEOUT_S:.0f} s"
    if isinstance(error, (ValueError, RecursionError)):
        return "answered /models with something that is not JSON"
    return f"unreachable ({reason})"


def _served_ids(body: object) -> set[str] | None:
    """Model ids from a /models body; None when the server does not list them."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    return {str(item.get("id")) for item in data if isinstance(item, dict)}

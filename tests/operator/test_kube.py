"""How the operator's API client authenticates and trusts the server (kube.py), beside the
emulator tests that use it over plain HTTP with a bearer token."""

import ssl

from kubernetes.client import Configuration
from substratus_operator.kube import Kube, _ssl_context, merge_patch


def config(**fields) -> Configuration:
    configuration = Configuration()
    for name, value in fields.items():
        setattr(configuration, name, value)
    return configuration


def test_a_bearer_token_goes_in_the_authorization_header():
    kube = Kube(config(host="http://127.0.0.1:1", api_key={"BearerToken": "Bearer secret"}))
    assert kube._headers("application/json") == {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "authorization": "Bearer secret",
    }


def test_tls_follows_the_configuration():
    assert _ssl_context(config(host="http://127.0.0.1:1")) is False
    verified = _ssl_context(config(host="https://10.0.0.1"))
    assert verified.verify_mode == ssl.CERT_REQUIRED and verified.check_hostname
    unverified = _ssl_context(config(host="https://10.0.0.1", verify_ssl=False))
    assert unverified.verify_mode == ssl.CERT_NONE and not unverified.check_hostname


def test_the_merge_patch_names_what_changed_and_nulls_what_went():
    old = {"ready": False, "dependencyMissingSince": "t", "trainerStatus": {"currentStep": 3, "loss": 1.0}, "x": [1]}
    new = {"ready": True, "trainerStatus": {"currentStep": 4}, "x": [1], "url": None}
    assert merge_patch(old, new) == {
        "dependencyMissingSince": None,
        "ready": True,
        "trainerStatus": {"currentStep": 4, "loss": None},
        "url": None,
    }
    assert merge_patch(new, new) == {}

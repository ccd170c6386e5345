"""The moto internals run-local replaces still exist: an upgrade that moves them fails here, loudly."""

import inspect

from etl_constructs.local.invoke import INVOKE_HOOK, SLEEP_HOOK


def test_lambda_invoke_hook_exists_with_the_signature_we_replace():
    owner, name = INVOKE_HOOK
    hook = getattr(owner, name)
    assert list(inspect.signature(hook).parameters) == ["self", "event"]


def test_retrier_sleeps_through_a_time_module_attribute():
    owner, name = SLEEP_HOOK
    assert callable(getattr(owner, name).sleep)
    assert "time.sleep(" in inspect.getsource(owner)


def test_moto_is_the_pinned_minor_version():
    import moto

    assert moto.__version__.startswith("5.2."), moto.__version__


def test_dynamodb_write_operations_we_make_atomic_exist():
    from moto.dynamodb.models import DynamoDBBackend

    from etl_constructs.local.fidelity import ATOMIC_WRITES

    for name in ATOMIC_WRITES:
        assert callable(getattr(DynamoDBBackend, name)), name

"""The moto internals run-local replaces still exist: an upgrade that moves them fails here, loudly."""

import inspect
import re

from etl_constructs.local.invoke import INVOKE_HOOK, SLEEP_HOOK, WAIT_HOOK


def test_lambda_invoke_hook_exists_with_the_signature_we_replace():
    owner, name = INVOKE_HOOK
    hook = getattr(owner, name)
    assert list(inspect.signature(hook).parameters) == ["self", "event"]


def test_retrier_sleeps_through_a_time_module_attribute():
    owner, name = SLEEP_HOOK
    assert callable(getattr(owner, name).sleep)
    assert "time.sleep(" in inspect.getsource(owner)


def test_a_wait_state_waits_through_the_method_we_replace():
    owner, name = WAIT_HOOK
    assert list(inspect.signature(getattr(owner, name)).parameters) == ["self", "env", "wait_seconds"]
    assert "program_state_event.wait(" in inspect.getsource(getattr(owner, name))


def test_moto_is_the_pinned_minor_version():
    import moto

    assert moto.__version__.startswith("5.2."), moto.__version__


def test_dynamodb_write_operations_we_make_atomic_exist():
    from moto.dynamodb.models import DynamoDBBackend

    from etl_constructs.local.fidelity import ATOMIC_WRITES

    for name in ATOMIC_WRITES:
        assert callable(getattr(DynamoDBBackend, name)), name


def test_s3_sends_eventbridge_messages_through_the_function_we_wrap():
    from moto.s3 import notifications

    from etl_constructs.local.fidelity import S3_EVENTBRIDGE_HOOK

    owner, name = S3_EVENTBRIDGE_HOOK
    assert list(inspect.signature(getattr(owner, name)).parameters) == ["account_id", "bucket", "event_name", "key"]
    assert f"{name}(account_id, bucket, event_name, key)" in inspect.getsource(notifications.send_event)
    assert '"key": key.name' in inspect.getsource(getattr(owner, name))


def test_states_set_entered_time_through_the_name_we_replace():
    from etl_constructs.local.fidelity import ENTERED_TIME_HOOK

    owner, name = ENTERED_TIME_HOOK
    assert re.search(rf"{name}\(\s*EnteredTime=", inspect.getsource(owner))


def test_every_sdk_call_passes_the_methods_we_wrap():
    from etl_constructs.local.calls import CALL_HOOK, SIGNER_HOOK

    owner, name = CALL_HOOK
    assert list(inspect.signature(getattr(owner, name)).parameters) == ["self", "operation_name", "api_params"]
    owner, name = SIGNER_HOOK
    assert "request_credentials" in inspect.signature(getattr(owner, name)).parameters


def test_threads_start_through_the_methods_we_wrap():
    from etl_constructs.local.calls import THREAD_HOOKS

    for owner, name in THREAD_HOOKS:
        assert callable(getattr(owner, name)), name


def test_state_machines_build_task_clients_through_the_function_we_share():
    import importlib

    from etl_constructs.local.calls import TASK_CLIENT_MODULES

    for module in TASK_CLIENT_MODULES:
        parameters = inspect.signature(importlib.import_module(module).boto_client_for).parameters
        assert list(parameters) == ["region", "service", "state_credentials"], module


def test_requests_reach_moto_through_the_stubber_we_wrap():
    from etl_constructs.local.faults import SEND_HOOK

    owner, name = SEND_HOOK
    assert list(inspect.signature(getattr(owner, name)).parameters) == ["self", "event_name", "request", "kwargs"]


def test_moto_authorizes_through_the_method_we_replace():
    from etl_constructs.local.authorization import AUTHORIZE_HOOK

    owner, name = AUTHORIZE_HOOK
    assert list(inspect.signature(getattr(owner, name)).parameters) == ["self", "resource"]
    assert "_access_key" in inspect.getsource(owner.__init__)


def test_an_execution_runs_in_the_method_we_wrap_with_its_role():
    from etl_constructs.local.principals import EXECUTION_HOOK

    owner, name = EXECUTION_HOOK
    assert "execution_details" in inspect.getsource(getattr(owner, name))
    assert "_execution_logic" in inspect.getsource(owner.start)


def test_executions_and_their_description_parse_through_the_names_we_cache():
    from moto.stepfunctions.parser.backend import execution, execution_worker

    from etl_constructs.local.parse_cache import ANALYSIS_HOOK, PARSE_HOOK

    for owner, name in (PARSE_HOOK, ANALYSIS_HOOK):
        assert list(inspect.signature(getattr(owner, name)).parameters) == ["definition"], name
    assert f"{PARSE_HOOK[0].__name__}.{PARSE_HOOK[1]}(" in inspect.getsource(execution_worker)
    assert f"{ANALYSIS_HOOK[0].__name__}.{ANALYSIS_HOOK[1]}(" in inspect.getsource(execution)


def test_a_definition_is_parsed_once_and_each_execution_gets_its_own_program():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from etl_constructs.local.parse_cache import parsed_once

    definition = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'
    with parsed_once():
        first, tree = AmazonStateLanguageParser.parse(definition)
        second, same_tree = AmazonStateLanguageParser.parse(definition)
    assert first is not second and tree is same_tree
    assert type(first) is type(second)

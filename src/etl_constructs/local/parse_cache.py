"""moto's Step Functions parses a definition with ANTLR for every execution, and again on every
DescribeExecution (its variable-reference analysis): about 0.2 s of CPU each time for the pipeline's
definition, most of a local execution's cost. While the emulation runs, each definition is parsed once:
an execution gets a deep copy of the parsed program (its components are not shared between
executions), and the analysis, a plain value, is kept.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.static_analyser.variable_references_static_analyser import (
    VariableReferencesStaticAnalyser,
)

#: What is patched: tests/constructs/local/test_moto_hooks.py checks they exist.
PARSE_HOOK = (AmazonStateLanguageParser, "parse")
ANALYSIS_HOOK = (VariableReferencesStaticAnalyser, "process_and_get")


@contextmanager
def parsed_once() -> Iterator[None]:
    """While in effect, each state machine definition is parsed and analysed once."""
    parse = AmazonStateLanguageParser.parse
    analyse = VariableReferencesStaticAnalyser.process_and_get
    programs: dict[str, tuple[Any, Any]] = {}
    analyses: dict[str, Any] = {}
    lock = threading.Lock()

    def cached_parse(definition: str) -> tuple[Any, Any]:
        with lock:
            found = programs.get(definition)
        if found is None:
            found = parse(definition)  # a definition that does not parse raises, and is not kept
            with lock:
                programs[definition] = found
        program, tree = found
        return copy.deepcopy(program), tree

    def cached_analysis(definition: str) -> Any:
        with lock:
            if definition in analyses:
                return copy.deepcopy(analyses[definition])
        result = analyse(definition)
        with lock:
            analyses[definition] = result
        return copy.deepcopy(result)

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(*PARSE_HOOK, staticmethod(cached_parse)))
        stack.enter_context(mock.patch.object(*ANALYSIS_HOOK, staticmethod(cached_analysis)))
        yield

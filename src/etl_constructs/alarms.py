"""EtlAlarms: an alarm on everything that can fail or stall, an SNS topic, and a dashboard."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .errors import ConfigurationError, check_overrides, props_of, refuse_snapshot
from .key_policies import IMPORTED_TOPIC_WARNING, allow_on_key, cloudwatch_key_statement, cloudwatch_topic_statement


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm's rule, as data.

    Attributes:
        threshold: the value that breaches (compared with >=). Default: 1.
        period: the metric period. Default: 5 minutes.
        evaluation_periods: periods looked at. Default: 1.
        datapoints_to_alarm: breaching periods among them that raise the alarm. Default: 1.
        enabled: create this alarm at all. Default: True.
    """

    threshold: float = 1
    period: Duration = field(default_factory=lambda: Duration.minutes(5))
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    enabled: bool = True

    def check(self, name: str, minimum: float = 1) -> None:
        """Raise ConfigurationError when the spec cannot make a sensible alarm."""
        if self.threshold < minimum:
            raise ConfigurationError(f"alarm {name}: threshold must be at least {minimum}, got {self.threshold}")
        if self.evaluation_periods < 1 or not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise ConfigurationError(f"alarm {name}: need 1 <= datapoints_to_alarm <= evaluation_periods")


@dataclass(frozen=True)
class AlarmThresholds:
    """Every alarm's spec; the defaults alarm on the first occurrence.

    Attributes:
        function_errors: errors per function. Default: >= 1 in 5 minutes.
        function_throttles: throttles per function. Default: >= 1 in 5 minutes.
        function_duration_percent: maximum duration as a percentage of the timeout. Default: >= 80.
        executions_failed: failed executions, faults only (a rejected file ends its execution
            successfully). Default: >= 1.
        executions_timed_out: Default: >= 1.
        executions_throttled: Default: >= 1.
        dead_letter_messages: events EventBridge could not deliver. Default: >= 1.
        files_rejected: files that broke the data contract. Default: >= 1.
        unsettled_files: ledger items the sweep found non-final after their execution's timeout
            (what the reconciler should have settled). Default: >= 1.
    """

    function_errors: AlarmSpec = field(default_factory=AlarmSpec)
    function_throttles: AlarmSpec = field(default_factory=AlarmSpec)
    function_duration_percent: AlarmSpec = field(default_factory=lambda: AlarmSpec(threshold=80))
    executions_failed: AlarmSpec = field(default_factory=AlarmSpec)
    executions_timed_out: AlarmSpec = field(default_factory=AlarmSpec)
    executions_throttled: AlarmSpec = field(default_factory=AlarmSpec)
    dead_letter_messages: AlarmSpec = field(default_factory=AlarmSpec)
    files_rejected: AlarmSpec = field(default_factory=AlarmSpec)
    unsettled_files: AlarmSpec = field(default_factory=AlarmSpec)

    def __post_init__(self) -> None:
        for name, spec in vars(self).items():
            spec.check(name)
        if self.function_duration_percent.threshold > 100:
            raise ConfigurationError("alarm function_duration_percent: threshold is a percentage, at most 100")


@dataclass(frozen=True)
class EtlAlarmsProps:
    """Props of EtlAlarms; give the parts to watch.

    Attributes:
        functions: Lambda functions to watch (errors, throttles, duration near timeout).
        state_machine: the workflow (failed, timed-out, throttled executions).
        large_file_state_machine: the workflow's STANDARD twin for large files, if any; its executions
            count in the same three alarms. Default: none.
        reconciler: the state machine that settles unsuccessful executions; its failures and time-outs
            leave ledger items non-final, so each one alarms. Default: none.
        sweep: the scheduled sweep function (ValidateTransformWorkflow.sweep_function); its errors alarm,
            and so does a sweep that stops running; with `service_name`, so does each item it finds
            unsettled. Default: none.
        sweep_interval: how often the sweep runs; no invocation in twice that (an hour at least, a day
            at most) alarms. Default: 15 minutes.
        dead_letter_queues: queues that must stay empty.
        metrics_namespace: namespace of the functions' own metrics (files rejected). Default: "EtlPipeline".
        service_name: the `service` dimension of those metrics. Default: none (no files-rejected alarm).
        topic: SNS topic every alarm notifies, used as it is: its policy must let
            `cloudwatch.amazonaws.com` publish, and its key (if any) must be customer-managed and let
            CloudWatch use it (a synth-time warning says so). Default: a new TLS-only topic encrypted
            with `encryption_key`, whose topic and key policies allow this account's alarms.
        encryption_key: the new topic's customer-managed key; it gets a key-policy statement letting
            this account's CloudWatch alarms use it (an imported key gets a warning instead).
            Default: a new key with rotation on (an AWS-managed key cannot be used by CloudWatch).
        removal_policy: for the key this construct creates. Default: RETAIN.
        thresholds: the alarms' specs. Default: AlarmThresholds().
        dashboard_name: Default: generated.
        create_dashboard: Default: True.
        topic_props: `sns.Topic` keyword arguments over the new topic's defaults (for example
            `topic_name`, `display_name`, `logging_configs`). Its key (use `encryption_key`), TLS-only
            policy and standard type (CloudWatch alarms cannot notify a FIFO topic) are refused. Not with
            `topic`. Default: none.
    """

    functions: Sequence[lambda_.IFunction] = ()
    state_machine: sfn.IStateMachine | None = None
    large_file_state_machine: sfn.IStateMachine | None = None
    reconciler: sfn.IStateMachine | None = None
    sweep: lambda_.IFunction | None = None
    sweep_interval: Duration = field(default_factory=lambda: Duration.minutes(15))
    dead_letter_queues: Sequence[sqs.IQueue] = ()
    metrics_namespace: str = "EtlPipeline"
    service_name: str | None = None
    topic: sns.ITopic | None = None
    encryption_key: kms.IKey | None = None
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    thresholds: AlarmThresholds = field(default_factory=AlarmThresholds)
    dashboard_name: str | None = None
    create_dashboard: bool = True
    topic_props: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.topic is not None and self.topic_props:
            raise ConfigurationError("EtlAlarms: give topic or topic_props, not both")
        check_overrides("topic_props", self.topic_props, sns.Topic, _TOPIC_OWNED)
        refuse_snapshot("EtlAlarms", self.removal_policy, "a KMS key")


#: Topic settings the alarms own: None where they set them, else the field to use instead.
_TOPIC_OWNED: dict[str, str | None] = {
    "master_key": "encryption_key",
    "enforce_ssl": None,
    "fifo": None,
    "content_based_deduplication": None,
    "fifo_throughput_scope": None,
}


class EtlAlarms(Construct):
    """Alarms with actions on an SNS topic, missing data never breaching, and a dashboard."""

    def __init__(self, scope: Construct, construct_id: str, props: EtlAlarmsProps, **kwargs: Any) -> None:
        props = props_of("EtlAlarms", EtlAlarmsProps, props, kwargs) or EtlAlarmsProps()
        super().__init__(scope, construct_id)
        self.props = props
        self.topic: sns.ITopic = props.topic or self._topic()
        if props.topic is not None:
            Annotations.of(self).add_warning_v2(
                IMPORTED_TOPIC_WARNING,
                "The alarm topic you gave is used as it is. For alarms to notify, its topic policy must allow "
                "cloudwatch.amazonaws.com to sns:Publish (aws:SourceAccount = this account), and if it is "
                "encrypted, its key must be customer-managed with a key policy letting cloudwatch.amazonaws.com "
                "use kms:Decrypt and kms:GenerateDataKey*; an AWS-managed key (alias/aws/sns) never works.",
            )
        self.alarms: list[cloudwatch.Alarm] = []
        t = props.thresholds
        widgets: list[cloudwatch.IWidget] = []
        for fn in props.functions:
            name = fn.node.id
            self._alarm(f"{name}Errors", fn.metric_errors(), t.function_errors, f"{name}: function errors")
            self._alarm(f"{name}Throttles", fn.metric_throttles(), t.function_throttles, f"{name}: throttled")
            timeout = fn.timeout if isinstance(fn, lambda_.Function) else None
            if timeout is not None:
                limit = timeout.to_milliseconds() * t.function_duration_percent.threshold / 100
                spec = AlarmSpec(
                    threshold=limit,
                    period=t.function_duration_percent.period,
                    evaluation_periods=t.function_duration_percent.evaluation_periods,
                    datapoints_to_alarm=t.function_duration_percent.datapoints_to_alarm,
                    enabled=t.function_duration_percent.enabled,
                )
                self._alarm(
                    f"{name}NearTimeout",
                    fn.metric_duration(statistic="Maximum"),
                    spec,
                    f"{name}: duration above {t.function_duration_percent.threshold:g}% of its timeout",
                )
            widgets.append(
                cloudwatch.GraphWidget(
                    title=f"{name}: invocations, errors, throttles",
                    left=[fn.metric_invocations(), fn.metric_errors(), fn.metric_throttles()],
                )
            )
        machines = [m for m in (props.state_machine, props.large_file_state_machine) if m is not None]
        if machines:
            failed = _summed([m.metric_failed() for m in machines], "executions failed")
            timed_out = _summed([m.metric_timed_out() for m in machines], "executions timed out")
            throttled = _summed([m.metric_throttled() for m in machines], "executions throttled")
            self._alarm("ExecutionsFailed", failed, t.executions_failed, "executions failed")
            self._alarm("ExecutionsTimedOut", timed_out, t.executions_timed_out, "executions timed out")
            self._alarm("ExecutionsThrottled", throttled, t.executions_throttled, "executions throttled")
            for index, sm in enumerate(machines):
                widgets.append(
                    cloudwatch.GraphWidget(
                        title="Executions" if index == 0 else "Executions of large files (STANDARD)",
                        left=[
                            sm.metric_started(),
                            sm.metric_succeeded(),
                            sm.metric_failed(),
                            sm.metric_timed_out(),
                        ],
                    )
                )
        if props.reconciler is not None:
            rc = props.reconciler
            self._alarm(
                "ReconcilerFailed",
                _summed([rc.metric_failed(), rc.metric_timed_out()], "reconciler executions failed or timed out"),
                t.executions_failed,
                "the reconciler failed to settle an execution's ledger item",
            )
        if props.sweep is not None:
            self._alarm(
                "SweepFailed",
                props.sweep.metric_errors(),
                t.function_errors,
                "the sweep could not hand on all it found (unsettled items, dead-lettered events)",
            )
        if props.sweep is not None and t.function_errors.enabled:
            self._sweep_stopped(props.sweep, props.sweep_interval)
        for index, queue in enumerate(props.dead_letter_queues):
            self._alarm(
                f"DeadLetters{index}",
                queue.metric_approximate_number_of_messages_visible(statistic="Maximum"),
                t.dead_letter_messages,
                f"undelivered events waiting in {queue.node.id}",
            )
        if props.service_name:
            dims = {"service": props.service_name}

            def metric(name: str) -> cloudwatch.Metric:
                return cloudwatch.Metric(
                    namespace=props.metrics_namespace, metric_name=name, dimensions_map=dims, statistic="Sum"
                )

            self._alarm("FilesRejected", metric("FilesRejected"), t.files_rejected, "files rejected by validation")
            if props.sweep is not None:
                self._alarm(
                    "UnsettledFiles",
                    metric("UnsettledFiles"),
                    t.unsettled_files,
                    "the sweep settled files no execution or reconciler settled",
                )
            widgets.append(
                cloudwatch.GraphWidget(
                    title="Files and rows",
                    left=[metric("FilesCompleted"), metric("FilesRejected")],
                    right=[metric("RowsValidated"), metric("RowsRejected")],
                )
            )
        self.dashboard: cloudwatch.Dashboard | None = None
        if props.create_dashboard:
            self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=props.dashboard_name)
            self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24))
            for widget in widgets:
                self.dashboard.add_widgets(widget)

    def _topic(self) -> sns.Topic:
        """A TLS-only topic on a customer-managed key, which this account's CloudWatch alarms may use."""
        key = self.props.encryption_key or kms.Key(
            self,
            "TopicKey",
            description="Encrypts the ETL pipeline's alarm topic",
            enable_key_rotation=True,
            removal_policy=self.props.removal_policy,
        )
        allow_on_key(self, key, cloudwatch_key_statement(), "CloudWatch alarms, for the encrypted alarm topic")
        settings = {"display_name": "ETL pipeline alarms", **(self.props.topic_props or {})}
        topic = sns.Topic(self, "Topic", **settings, enforce_ssl=True, master_key=key)
        topic.add_to_resource_policy(cloudwatch_topic_statement(topic))
        return topic

    def _sweep_stopped(self, sweep: lambda_.IFunction, interval: Duration) -> None:
        """An alarm when the sweep is not invoked: nothing would settle what the reconciler misses."""
        seconds = min(max(2 * interval.to_seconds(), 3600), 86400)
        self._alarm(
            "SweepNotRunning",
            sweep.metric_invocations(statistic="Sum"),
            AlarmSpec(threshold=1, period=Duration.seconds(seconds)),
            "the sweep has not run (its schedule is disabled or failing)",
            below=True,  # and no data is what this alarm is about: missing data breaches
        )

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, spec: AlarmSpec, description: str, below: bool = False
    ) -> None:
        """An alarm notifying the topic when `metric` reaches `spec.threshold` (or, `below`, stays under it)."""
        if not spec.enabled:
            return
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            # A MathExpression's period overrides its metrics' periods: the spec's period reaches each term.
            metric=metric.with_(period=spec.period)
            if isinstance(metric, cloudwatch.Metric | cloudwatch.MathExpression)
            else metric,
            threshold=spec.threshold,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=spec.datapoints_to_alarm,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
            if below
            else cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING
            if below
            else cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"ETL pipeline: {description}",
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)


def _summed(metrics: Sequence[cloudwatch.IMetric], label: str) -> cloudwatch.IMetric:
    """The sum of `metrics` over 5 minutes, each missing point counted as 0; the metric itself when alone.

    Step Functions publishes a count only when it is not zero, and metric math computes no value where a
    term has none, so `a + b` alone would miss every period in which only one of them happened
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html, FILL).
    """
    if len(metrics) == 1:
        return metrics[0]
    using = {f"m{i}": m for i, m in enumerate(metrics)}
    return cloudwatch.MathExpression(
        expression=" + ".join(f"FILL({name}, 0)" for name in using),
        using_metrics=using,
        label=label,
        period=Duration.minutes(5),
    )

"""Alarms and a dashboard: a failed nightly batch, a run that skipped unreadable inputs, no
model promoted for days, dead letters, API server errors.

Alarms notify an SNS topic; pass ``-c alarm_email=ops@example.com`` to subscribe an address.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from recs.contracts import resources

FIVE_MINUTES = Duration.minutes(5)
ONE_DAY = Duration.days(1)


def batch_metric(name: str, period: Duration) -> cw.Metric:
    """A metric the batch functions emit with Powertools Metrics (EMF): the namespace and
    the ``service`` dimension Powertools adds, as every function is configured."""
    return cw.Metric(
        namespace=resources.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": resources.SERVICE},
        statistic="Sum",
        period=period,
    )


class RecsMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.StateMachine,
        queue: sqs.Queue,
        dead_letter_queue: sqs.Queue,
        rest_api: apigw.RestApi,
        functions: Mapping[str, lambda_.Function],
        alarm_email: str | None,
        stale_model_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        # Not KMS-encrypted: notifications carry alarm names and states only, and CloudWatch
        # cannot publish to a topic under the AWS-managed aws/sns key.
        self.topic = sns.Topic(self, "AlarmTopic", display_name="recs alarms", enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subs.EmailSubscription(alarm_email))

        self.batch_failed = self._alarm(
            "BatchFailedAlarm",
            "The nightly batch failed; the live model was left unchanged.",
            state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum"),
        )
        self.unreadable_inputs = self._alarm(
            "UnreadableInputsAlarm",
            "A nightly run skipped input files it could not read (events or catalog deltas); "
            "the run's output and the registry record name them.",
            batch_metric(resources.UNREADABLE_INPUTS_METRIC, Duration.hours(1)),
        )
        # Sum < 1 on each of the last N days, a day without data counting as none: the live
        # model is N days old (every run since failed, was refused by the gate, or never ran).
        self.stale_model = cw.Alarm(
            self,
            "StaleModelAlarm",
            alarm_description=(
                f"No model has been promoted for {stale_model_days} days: the live model is "
                "getting old (failed, refused or missing nightly runs). On a new stack it "
                "fires until the first model is promoted."
            ),
            metric=batch_metric(resources.MODEL_PROMOTED_METRIC, ONE_DAY),
            threshold=1,
            evaluation_periods=stale_model_days,
            datapoints_to_alarm=stale_model_days,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.BREACHING,
        )
        self.dead_letters = self._alarm(
            "DeadLettersAlarm",
            "Events the lander could not write to S3 reached the DLQ.",
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
        )
        self.api_errors = self._alarm(
            "Api5xxAlarm",
            "The API answered with server errors (5XX).",
            rest_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
        )
        action = cw_actions.SnsAction(self.topic)
        self.alarms = (
            self.batch_failed,
            self.unreadable_inputs,
            self.stale_model,
            self.dead_letters,
            self.api_errors,
        )
        for alarm in self.alarms:
            alarm.add_alarm_action(action)

        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.days(1))
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(
                title="Alarms",
                alarms=list(self.alarms),
                width=24,
                height=3,
            )
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="API requests and errors",
                left=[rest_api.metric_count(period=FIVE_MINUTES)],
                right=[
                    rest_api.metric_client_error(period=FIVE_MINUTES),
                    rest_api.metric_server_error(period=FIVE_MINUTES),
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="API latency (p50, p99)",
                left=[
                    rest_api.metric_latency(period=FIVE_MINUTES, statistic="p50"),
                    rest_api.metric_latency(period=FIVE_MINUTES, statistic="p99"),
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Event queue and dead letters",
                left=[queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES)],
                right=[
                    dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES
                    )
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Function errors",
                left=[
                    fn.metric_errors(period=FIVE_MINUTES, label=name)
                    for name, fn in functions.items()
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Function duration p99",
                left=[
                    fn.metric_duration(period=FIVE_MINUTES, statistic="p99", label=name)
                    for name, fn in functions.items()
                ],
                width=8,
            ),
            cw.GraphWidget(
                title="Nightly batch executions",
                left=[
                    state_machine.metric_succeeded(period=Duration.hours(1)),
                    state_machine.metric_failed(period=Duration.hours(1)),
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Models promoted and input files skipped, per day",
                left=[batch_metric(resources.MODEL_PROMOTED_METRIC, ONE_DAY)],
                right=[batch_metric(resources.UNREADABLE_INPUTS_METRIC, ONE_DAY)],
                width=8,
            ),
        )

    def _alarm(self, construct_id: str, description: str, metric: cw.IMetric) -> cw.Alarm:
        """Fires on the first bad data point in a period; no data means all is well."""
        return cw.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

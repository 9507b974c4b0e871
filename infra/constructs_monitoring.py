"""Alarms and a dashboard: a failed nightly batch, dead letters, API server errors.

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

FIVE_MINUTES = Duration.minutes(5)


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
        for alarm in (self.batch_failed, self.dead_letters, self.api_errors):
            alarm.add_alarm_action(action)

        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.days(1))
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(
                title="Alarms",
                alarms=[self.batch_failed, self.dead_letters, self.api_errors],
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

    def _alarm(self, construct_id: str, description: str, metric: cw.IMetric) -> cw.Alarm:
        """Fires on the first bad data point in five minutes; no data means all is well."""
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

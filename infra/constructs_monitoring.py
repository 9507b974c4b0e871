"""Alarms and a dashboard: a failed nightly batch, a run that skipped unreadable inputs, no
model promoted for days, no successful batch for 36 hours, dead letters, API server errors and
slow answers, shoppers falling back to trending, the live model's click-through rate dropping.

Alarms notify an SNS topic; pass ``-c alarm_email=ops@example.com`` to subscribe an address.
The dashboard adds what the shop cares about: click-through and conversion by tier and by
model version, the fallback share, events per minute and experiment traffic (the metrics of
``recs.contracts.metrics``; docs/operations.md reads them).
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

from recs.contracts import metrics as m
from recs.contracts import resources

FIVE_MINUTES = Duration.minutes(5)
ONE_HOUR = Duration.hours(1)
ONE_DAY = Duration.days(1)

# API Gateway's p95 latency (the whole request, cold starts included) over 5-minute periods
# for 15 minutes: one slow burst of cold starts is not an incident, a slow quarter-hour is.
LATENCY_P95_MS = 200
LATENCY_PERIODS = 3
# The share of known shoppers' /recommendations answers with none of their own tiers, per
# 15 minutes for 30 minutes: a share needs requests to mean anything, and the realtime or
# serving table browning out shows as a sudden jump.
FALLBACK_SHARE = 0.2
FALLBACK_PERIOD = Duration.minutes(15)
FALLBACK_PERIODS = 2
# LiveCtrChange is in percent against the trailing seven days; -5 is 5 % below them.
CTR_DROP_PERCENT = -5
# No successful nightly run for this many hours. One hour periods x 36: CloudWatch caps
# Period x EvaluationPeriods at 7 days for periods of an hour or more (at 1 day below an
# hour, so 5-minute periods cannot look back 36 hours), and an hour's period puts the alarm
# within an hour of the 36th, where 6-hour periods could fire up to 6 hours late.
NO_SUCCESS_HOURS = 36


def app_metric(name: str, period: Duration, statistic: str = "Sum",
               **dimensions: str) -> cw.Metric:
    """A metric the functions emit with Powertools Metrics (EMF): the namespace, the
    ``service`` dimension Powertools adds, and exactly the other dimensions it is sent
    with (``recs.contracts.metrics``)."""
    return cw.Metric(
        namespace=m.NAMESPACE,
        metric_name=name,
        dimensions_map={m.SERVICE_DIMENSION: m.SERVICE_NAME, **dimensions},
        statistic=statistic,
        period=period,
    )


def batch_metric(name: str, period: Duration) -> cw.Metric:
    """A nightly step's metric: the service dimension only, summed."""
    return app_metric(name, period)


def search(metric: str, schema: tuple[str, ...], label: str, statistic: str = "Sum",
           period: Duration = ONE_HOUR, **where: str) -> cw.MathExpression:
    """Every series of ``metric`` sent with exactly the dimensions ``schema`` (plus service),
    whatever their values: model versions change nightly and experiments come and go, so
    they cannot be listed at deploy time. Dashboards only (alarms take no SEARCH)."""
    keys = ",".join(sorted({m.SERVICE_DIMENSION, *schema}))
    terms = " ".join([f'MetricName="{metric}"', f'{m.SERVICE_DIMENSION}="{m.SERVICE_NAME}"',
                      *(f'{k}="{v}"' for k, v in where.items())])
    return cw.MathExpression(
        expression=f"SEARCH('{{{m.NAMESPACE},{keys}}} {terms}', '{statistic}', "
                   f"{int(period.to_seconds())})",
        label=label, period=period)


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
        self.api_latency = cw.Alarm(
            self,
            "ApiLatencyAlarm",
            alarm_description=(
                f"The API's p95 latency was above {LATENCY_P95_MS} ms for "
                f"{LATENCY_PERIODS * 5} minutes (API Gateway's figure, cold starts included)."
            ),
            metric=rest_api.metric_latency(period=FIVE_MINUTES, statistic="p95"),
            threshold=LATENCY_P95_MS,
            evaluation_periods=LATENCY_PERIODS,
            datapoints_to_alarm=LATENCY_PERIODS,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self.fallback_share = cw.Alarm(
            self,
            "FallbackShareAlarm",
            alarm_description=(
                f"More than {FALLBACK_SHARE:.0%} of known shoppers' recommendations were "
                "trending only (no session or personalised items): the serving or realtime "
                "table failing, or the live model missing those shoppers."
            ),
            metric=app_metric(m.FALLBACK, FALLBACK_PERIOD, "Average", route="recommendations"),
            threshold=FALLBACK_SHARE,
            evaluation_periods=FALLBACK_PERIODS,
            datapoints_to_alarm=FALLBACK_PERIODS,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        # One figure a night. A shop that sends no impressions has none: not an alarm.
        self.live_ctr_drop = cw.Alarm(
            self,
            "LiveCtrDropAlarm",
            alarm_description=(
                f"Yesterday's click-through rate of recommended items was more than "
                f"{-CTR_DROP_PERCENT} % below its trailing seven days."
            ),
            metric=app_metric(m.LIVE_CTR_CHANGE, ONE_DAY, "Average"),
            threshold=CTR_DROP_PERCENT,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        # Sum < 1 in each of the last 36 hours, an hour without data counting as none. On a
        # new stack it fires until the first nightly run succeeds.
        self.no_successful_batch = cw.Alarm(
            self,
            "NoSuccessfulBatchAlarm",
            alarm_description=(
                f"No nightly batch has succeeded for {NO_SUCCESS_HOURS} hours (failed, "
                "still running, or not started by the schedule)."
            ),
            metric=state_machine.metric_succeeded(period=ONE_HOUR, statistic="Sum"),
            threshold=1,
            evaluation_periods=NO_SUCCESS_HOURS,
            datapoints_to_alarm=NO_SUCCESS_HOURS,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.BREACHING,
        )
        action = cw_actions.SnsAction(self.topic)
        self.alarms = (
            self.batch_failed,
            self.unreadable_inputs,
            self.stale_model,
            self.no_successful_batch,
            self.dead_letters,
            self.api_errors,
            self.api_latency,
            self.fallback_share,
            self.live_ctr_drop,
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
            cw.GraphWidget(
                title="Live click-through rate against its trailing 7 days (%)",
                left=[app_metric(m.LIVE_CTR_CHANGE, ONE_DAY, "Average")],
                left_annotations=[cw.HorizontalAnnotation(value=CTR_DROP_PERCENT,
                                                          label="alarm")],
                width=8,
            ),
        )
        self._business_widgets()

    def _business_widgets(self) -> None:
        """Click-through (clicks / items served) and conversion (purchases / clicks) per tier
        and per model version, the fallback share, events per minute, experiment traffic."""
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Click-through rate by tier (clicks / items served, hourly)",
                left=[self._ratio(tier, "click", None) for tier in m.TIERS],
                width=12,
            ),
            cw.GraphWidget(
                title="Conversion by tier (purchases / clicks, hourly)",
                left=[self._ratio(tier, "purchase", "click") for tier in m.TIERS],
                width=12,
            ),
        )
        schema = (m.EVENT_TYPE, m.MODEL_VERSION)
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="By model version: items served, clicks and purchases (hourly)",
                left=[search(m.SERVED_ITEMS, (m.MODEL_VERSION,), "served")],
                right=[search(m.ATTRIBUTED_EVENTS, schema, "clicks", event_type="click"),
                       search(m.ATTRIBUTED_EVENTS, schema, "purchases",
                              event_type="purchase")],
                width=12,
            ),
            cw.GraphWidget(
                title="Fallback share of known shoppers' recommendations",
                left=[app_metric(m.FALLBACK, FIVE_MINUTES, "Average", route="recommendations")],
                left_annotations=[cw.HorizontalAnnotation(value=FALLBACK_SHARE, label="alarm")],
                left_y_axis=cw.YAxisProps(min=0, max=1),
                width=6,
            ),
            cw.GraphWidget(
                title="Events per minute",
                left=[app_metric(name, Duration.minutes(1)).with_(label=label)
                      for name, label in ((m.EVENTS_ACCEPTED, "accepted"),
                                          (m.EVENTS_REJECTED, "rejected"),
                                          (m.EVENTS_DUPLICATE, "duplicates"))],
                width=6,
            ),
        )
        arm = (m.EXPERIMENT, m.VARIANT)
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Experiment traffic: lists served and clicks per variant (position)",
                left=[search(m.EXPOSURES, arm, "exposures")],
                right=[search(m.CLICKS, arm, "clicks")],
                width=24,
            ),
        )

    def _ratio(self, tier: str, event: str, per: str | None) -> cw.MathExpression:
        """Events of type ``event`` attributed to ``tier`` per ``per`` events there, or per
        item of the tier served when ``per`` is None; hourly, as the counts are small."""
        key = tier.replace("_", "")  # metric math ids: a lowercase letter, then alphanumerics
        over = (app_metric(m.ATTRIBUTED_EVENTS, ONE_HOUR, event_type=per, tier=tier) if per
                else app_metric(m.SERVED_ITEMS, ONE_HOUR, tier=tier))
        return cw.MathExpression(
            expression=f"{event}{key} / base{key}",
            using_metrics={
                f"{event}{key}": app_metric(m.ATTRIBUTED_EVENTS, ONE_HOUR, event_type=event,
                                            tier=tier),
                f"base{key}": over,
            },
            label=tier, period=ONE_HOUR)

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

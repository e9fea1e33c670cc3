"""What the relay's alarms have in common, written once: the end of every alarm (its comparison and its
actions) and the Talon.One error rate (failures over calls, from the relay's own EMF counts,
talon_relay/telemetry.py) over one dimension: a function's operation, or an application.
"""

from __future__ import annotations

ALARM_TAIL = """\
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!If [CreateAlarmTopic, !Ref AlarmTopic, !Ref AlarmTopicArn]]
      OKActions: [!If [CreateAlarmTopic, !Ref AlarmTopic, !Ref AlarmTopicArn]]
"""

_COUNT = """\
        - Id: {id}
          ReturnData: false
          MetricStat:
            Metric:
              Namespace: !Ref MetricsNamespace
              MetricName: {metric}
              Dimensions:
                - Name: {dimension}
                  Value: {value}
                - Name: service
                  Value: talon-relay
            Period: 300
            Stat: Sum
"""


def talon_error_rate(dimension: str, value: str) -> str:
    """An alarm's Metrics, EvaluationPeriods, Threshold and tail: Talon.One's failures over its calls where
    `dimension` is `value` (inserted as it is: a template placeholder or a CloudFormation expression)."""
    counts = "".join(
        _COUNT.format(id=id_, metric=metric, dimension=dimension, value=value)
        for id_, metric in (("errors", "TalonOneErrors"), ("calls", "TalonOneCalls"))
    )
    return (
        "      Metrics:\n"
        + counts
        + """\
        - Id: rate
          Label: Talon.One error rate
          Expression: FILL(errors, 0) / calls
          ReturnData: true
      EvaluationPeriods: 3
      DatapointsToAlarm: 2
      Threshold: !Ref TalonErrorRateThreshold
"""
        + ALARM_TAIL
    )

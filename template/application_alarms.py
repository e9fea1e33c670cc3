"""Alarms per Talon.One application (docs/applications.md): error rate toward Talon.One and queue age.

The template cannot read the Applications document (JSON in a parameter), so an operator names the
applications to watch in `AlarmApplications` (a list); each of its first MAX_APPLICATIONS names fills
one slot, and a slot's two alarms exist only when it is filled (condition `AlarmApplication<N>`, the
list padded with empty names so that `Fn::Select` never runs past its end). The metrics are the relay's
own EMF ones, which carry the dimensions (`application`, `service`) in a deployment of several.
"""

from __future__ import annotations

from template.alarm_parts import ALARM_TAIL, talon_error_rate

#: Applications AlarmApplications can watch (a slot each).
MAX_APPLICATIONS = 8

_NAME = '!Select [{slot}, !Split [",", !Join ["", [!Join [",", !Ref AlarmApplications], "{padding}"]]]]'

_CONDITION = """\
  AlarmApplication{slot}: !Not [!Equals [{name}, ""]]
"""

_ALARMS = """\
  Application{slot}TalonOneErrorRateAlarm:
    Type: AWS::CloudWatch::Alarm
    Condition: AlarmApplication{slot}
    Properties:
      AlarmDescription: !Sub
        - >-
          Application ${{App}}: more than TalonErrorRateThreshold of its Talon.One calls failed for
          Talon.One's reasons, across every function (docs/applications.md)
        - App: {name}
{error_rate}
  Application{slot}QueueAgeAlarm:
    Type: AWS::CloudWatch::Alarm
    Condition: AlarmApplication{slot}
    Properties:
      AlarmDescription: !Sub
        - >-
          Application ${{App}}: a message it received had waited longer than QueueBacklogMaxAge since
          it was first sent (its queues are shared: the relay measures each application's own)
        - App: {name}
      Namespace: !Ref MetricsNamespace
      MetricName: QueueAgeSeconds
      Dimensions:
        - Name: application
          Value: {name}
        - Name: service
          Value: talon-relay
      Statistic: Maximum
      Period: 300
      EvaluationPeriods: 1
      Threshold: !Ref QueueBacklogMaxAge
{tail}"""


def _name(slot: int) -> str:
    return _NAME.format(slot=slot, padding="," * MAX_APPLICATIONS)


def conditions() -> str:
    """One condition per slot: AlarmApplications names an application there."""
    return "".join(_CONDITION.format(slot=slot, name=_name(slot)) for slot in range(MAX_APPLICATIONS))


def alarms() -> str:
    """Each slot's two alarms (error rate toward Talon.One, queue age)."""
    return "\n".join(
        _ALARMS.format(
            slot=slot,
            name=_name(slot),
            error_rate=talon_error_rate("application", _name(slot)),
            tail=ALARM_TAIL,
        )
        for slot in range(MAX_APPLICATIONS)
    )

"""Evaluation: how good an answer is (0–10) and what to improve.

`Evaluator` is the contract; `LLMJudgeEvaluator` (the default) asks other models to judge.
"""

from __future__ import annotations

from ._base import EvaluationTask, Evaluator, JudgeCall
from ._parse import parse_verdict
from .calibration import IsotonicCalibration, LogisticCalibration, ScoreCalibration, calibration_from_dict
from .judge import DEFAULT_RUBRIC, LLMJudgeEvaluator

__all__ = [
    "DEFAULT_RUBRIC",
    "EvaluationTask",
    "Evaluator",
    "IsotonicCalibration",
    "JudgeCall",
    "LLMJudgeEvaluator",
    "LogisticCalibration",
    "ScoreCalibration",
    "calibration_from_dict",
    "parse_verdict",
]

"""Scores and plot tables for a fitted model on held-out rows.

The reports take the model's outputs (scored partition by partition by the evaluate stage),
not the model, so held-out rows are predicted once, wherever they are.
"""

import numpy as np
import pandas as pd
from joblib import parallel_config
from sklearn import metrics
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import label_binarize


def classification_report(
    actual: pd.Series, predicted: np.ndarray, scores: np.ndarray, classes: np.ndarray
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Accuracy, F1, precision, recall and ROC AUC; confusion, ROC and PR curves.

    scores: the class probabilities, a column per class in the order of classes.
    """
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    options = {"average": average, "zero_division": 0}
    if binary:
        options["pos_label"] = classes[1]
    # Curves of a multiclass model are micro-averaged over one-vs-rest problems.
    truth = (actual == classes[1]).to_numpy() if binary else label_binarize(actual, classes=classes)
    score = scores[:, 1] if binary else scores
    fpr, tpr, _ = metrics.roc_curve(np.ravel(truth), np.ravel(score))
    precision, recall, _ = metrics.precision_recall_curve(np.ravel(truth), np.ravel(score))
    result = {
        "accuracy": metrics.accuracy_score(actual, predicted),
        "f1": metrics.f1_score(actual, predicted, **options),
        "precision": metrics.precision_score(actual, predicted, **options),
        "recall": metrics.recall_score(actual, predicted, **options),
        "roc_auc": (
            metrics.roc_auc_score(truth, score)
            if binary
            else metrics.roc_auc_score(actual, scores, multi_class="ovr", labels=classes)
        ),
    }
    plots = {
        "confusion.csv": pd.DataFrame(
            {"actual": actual.astype(str), "predicted": predicted.astype(str)}
        ),
        "roc.csv": pd.DataFrame({"fpr": fpr, "tpr": tpr}),
        "precision_recall.csv": pd.DataFrame({"recall": recall, "precision": precision}),
    }
    return result, plots


def regression_report(
    actual: pd.Series, predicted: np.ndarray
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """RMSE, MAE and R2; predicted-vs-actual and residuals."""
    result = {
        "rmse": metrics.root_mean_squared_error(actual, predicted),
        "mae": metrics.mean_absolute_error(actual, predicted),
        "r2": metrics.r2_score(actual, predicted),
    }
    table = pd.DataFrame(
        {"actual": actual.to_numpy(), "predicted": predicted, "residual": actual - predicted}
    )
    return result, {"predictions.csv": table}


def importance_table(
    model: Pipeline,
    features: pd.DataFrame,
    actual: pd.Series,
    repeats: int,
    max_rows: int,
    seed: int,
) -> pd.DataFrame:
    """Permutation importance of each input column: the score lost when it is shuffled.

    It predicts repeats x columns times, so at most max_rows rows are used: the evaluate
    stage passes a deterministic sample of that many, which keeps it cheap on big data.
    """
    # Every core, in threads: predicting releases the GIL, and worker processes would cost
    # more to start than small data takes. Shuffles are seeded per column: any count agrees.
    with parallel_config(backend="threading"):
        result = permutation_importance(
            model,
            features,
            actual,
            n_repeats=repeats,
            max_samples=min(max_rows, len(features)),
            random_state=seed,
            n_jobs=-1,
        )
    table = pd.DataFrame({"feature": features.columns, "importance": result.importances_mean})
    return table.sort_values(["importance", "feature"], ascending=[False, True])

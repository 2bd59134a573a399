"""The types a model archive may hold: an exact list, checked before anything is loaded.

Every type in a skops archive, and every function it names, must be listed here; anything
else is refused before an object is built, at `make deploy` and on every load (the
server, `make monitor`). The list holds what the template's pipelines contain (every
estimator in pipeline/model.py, for classification and regression, numeric and text
columns) for the scikit-learn in uv.lock and at its floor in pyproject.toml, and the plain
Python and numpy types they use.

Changed the pipeline (a new step, an estimator or loss not listed)? `make deploy` names the
types it would need. Add them to EXTRA_TRUSTED_TYPES below, only if you trust them: a type
here may be built, and a function called, from any archive in the registry.
"""

# Types you add, as "module.Name" (for example "sklearn.decomposition._pca.PCA").
EXTRA_TRUSTED_TYPES: tuple[str, ...] = ()

TEMPLATE_TYPES: frozenset[str] = frozenset(
    {
        # The model's first step, which runs this project's derive.py (never code from
        # the archive: the step holds names and the code's hash only).
        f"{__package__.rsplit('.', 1)[0]}.pipeline.derive_step.DeriveStep",
        "builtins.NoneType",
        "builtins.bool",
        "builtins.bytes",
        "builtins.dict",
        "builtins.float",
        "builtins.frozenset",
        "builtins.int",
        "builtins.list",
        "builtins.set",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        "numpy.dtype",
        "numpy.float64",
        "numpy.int64",
        "numpy.ndarray",
        "numpy.random._generator.Generator",
        "numpy.uint64",
        "sklearn._loss._loss.CyAbsoluteError",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfGammaLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyHalfPoissonLoss",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn._loss._loss.CyPinballLoss",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogLink",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfGammaLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfPoissonLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.loss.PinballLoss",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.compose._column_transformer._RemainderColsList",  # scikit-learn 1.5, the floor
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.RandomForestRegressor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._ridge.Ridge",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._label.LabelEncoder",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.DecisionTreeRegressor",
        "sklearn.tree._tree.Tree",
    }
)

# scikit-learn 1.5 (the floor) names its loss classes after their Cython module alone.
FLOOR_TYPES: frozenset[str] = frozenset(
    name.replace("sklearn._loss._loss.", "_loss.")
    for name in TEMPLATE_TYPES
    if name.startswith("sklearn._loss._loss.")
)

TRUSTED_TYPES: frozenset[str] = TEMPLATE_TYPES | FLOOR_TYPES | frozenset(EXTRA_TRUSTED_TYPES)

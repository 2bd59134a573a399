"""SimpleImputer in float64 for skl2onnx, which converts it to ai.onnx.ml's Imputer, a
float32 operator ONNX Runtime has no float64 kernel for: IsNaN and Where instead, standard
operators of any float type. Importing this module registers it (deploy only)."""

import numpy as np
from skl2onnx import update_registered_converter
from skl2onnx.algebra.onnx_ops import OnnxIsNaN, OnnxWhere
from skl2onnx.common.data_types import guess_numpy_type
from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer
from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes
from sklearn.impute import SimpleImputer


def convert_imputer(scope, operator, container) -> None:
    """Missing values (NaN) become the fitted statistics; other inputs as skl2onnx does."""
    source = operator.inputs[0]
    if guess_numpy_type(source.type) != np.float64:
        convert_sklearn_imputer(scope, operator, container)
        return
    statistics = operator.raw_operator.statistics_.astype(np.float64).reshape(1, -1)
    version = container.target_opset
    filled = OnnxWhere(
        OnnxIsNaN(source, op_version=version),
        statistics,
        source,
        op_version=version,
        output_names=[operator.outputs[0].full_name],
    )
    filled.add_to(scope, container)


update_registered_converter(
    SimpleImputer, "SklearnImputer", calculate_sklearn_imputer_output_shapes, convert_imputer
)

// Row-wise L2 normalisation of embeddings.
#pragma once
#include <cmath>
#include <cstddef>

namespace memery {
inline void L2NormalizeRows(float *data, size_t rows, size_t dim) {
  for (size_t r = 0; r < rows; r++) {
    float *v = data + r * dim;
    double s = 0;
    for (size_t i = 0; i < dim; i++) s += static_cast<double>(v[i]) * v[i];
    if (s <= 0) continue;
    float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (size_t i = 0; i < dim; i++) v[i] *= inv;
  }
}
}  // namespace memery

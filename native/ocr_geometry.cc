#include "ocr_geometry.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace memery {
namespace ocr {

namespace {
double Cross(const Pt &o, const Pt &a, const Pt &b) { return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x); }
}  // namespace

std::vector<Pt> ConvexHull(std::vector<Pt> pts) {
  std::sort(pts.begin(), pts.end(), [](const Pt &a, const Pt &b) { return a.x < b.x || (a.x == b.x && a.y < b.y); });
  pts.erase(std::unique(pts.begin(), pts.end(), [](const Pt &a, const Pt &b) { return a.x == b.x && a.y == b.y; }), pts.end());
  if (pts.size() < 3) return pts;
  std::vector<Pt> h(2 * pts.size());
  size_t k = 0;
  for (size_t i = 0; i < pts.size(); i++) {
    while (k >= 2 && Cross(h[k - 2], h[k - 1], pts[i]) <= 0) k--;
    h[k++] = pts[i];
  }
  for (size_t i = pts.size() - 1, t = k + 1; i > 0; i--) {
    while (k >= t && Cross(h[k - 2], h[k - 1], pts[i - 1]) <= 0) k--;
    h[k++] = pts[i - 1];
  }
  h.resize(k - 1);
  return h;
}

RotatedRect MinAreaRect(const std::vector<Pt> &hull) {
  RotatedRect best;
  if (hull.empty()) return best;
  if (hull.size() == 1) {
    best.center = hull[0];
    return best;
  }
  double bestArea = std::numeric_limits<double>::infinity();
  const size_t n = hull.size();
  // The optimal rectangle has a side on one of the hull's edges; hulls of text regions have tens
  // of vertices, so trying every edge against every vertex is cheap.
  for (size_t i = 0; i < n; i++) {
    const Pt &a = hull[i], &b = hull[(i + 1) % n];
    double dx = b.x - a.x, dy = b.y - a.y, len = std::hypot(dx, dy);
    if (len == 0) continue;
    Pt u{dx / len, dy / len}, v{-u.y, u.x};
    double minU = std::numeric_limits<double>::infinity(), maxU = -minU, minV = minU, maxV = -minU;
    for (const Pt &p : hull) {
      double pu = p.x * u.x + p.y * u.y, pv = p.x * v.x + p.y * v.y;
      minU = std::min(minU, pu), maxU = std::max(maxU, pu);
      minV = std::min(minV, pv), maxV = std::max(maxV, pv);
    }
    double area = (maxU - minU) * (maxV - minV);
    if (area < bestArea) {
      bestArea = area;
      double cu = (minU + maxU) / 2, cv = (minV + maxV) / 2;
      best.center = {cu * u.x + cv * v.x, cu * u.y + cv * v.y};
      best.width = maxU - minU;
      best.height = maxV - minV;
      best.axis = u;
    }
  }
  return best;
}

Quad Corners(const RotatedRect &r) {
  const Pt u{r.axis.x * r.width / 2, r.axis.y * r.width / 2};
  const Pt v{-r.axis.y * r.height / 2, r.axis.x * r.height / 2};
  const Pt &c = r.center;
  return {Pt{c.x - u.x - v.x, c.y - u.y - v.y}, Pt{c.x + u.x - v.x, c.y + u.y - v.y}, Pt{c.x + u.x + v.x, c.y + u.y + v.y},
          Pt{c.x - u.x + v.x, c.y - u.y + v.y}};
}

Quad MiniBoxOrder(Quad p) {
  std::stable_sort(p.begin(), p.end(), [](const Pt &a, const Pt &b) { return a.x < b.x; });
  int i1, i2, i3, i4;
  if (p[1].y > p[0].y) i1 = 0, i4 = 1;
  else i1 = 1, i4 = 0;
  if (p[3].y > p[2].y) i2 = 2, i3 = 3;
  else i2 = 3, i3 = 2;
  return {p[i1], p[i2], p[i3], p[i4]};
}

Quad ClockwiseOrder(const Quad &q) {
  int smin = 0, smax = 0;
  for (int i = 1; i < 4; i++) {
    if (q[i].x + q[i].y < q[smin].x + q[smin].y) smin = i;
    if (q[i].x + q[i].y > q[smax].x + q[smax].y) smax = i;
  }
  if (smin == smax) return q;  // degenerate (a point)
  int rest[2], k = 0;
  for (int i = 0; i < 4; i++)
    if (i != smin && i != smax) rest[k++] = i;
  // np.diff over [x, y] is y - x
  const double d0 = q[rest[0]].y - q[rest[0]].x, d1 = q[rest[1]].y - q[rest[1]].x;
  const int r1 = d1 < d0 ? rest[1] : rest[0], r3 = d1 < d0 ? rest[0] : rest[1];
  return {q[smin], q[r1], q[smax], q[r3]};
}

double Distance(const Pt &a, const Pt &b) { return std::hypot(a.x - b.x, a.y - b.y); }

double PolygonArea(const Quad &q) {
  double a = 0;
  for (int i = 0; i < 4; i++) {
    const Pt &p = q[i], &n = q[(i + 1) % 4];
    a += p.x * n.y - n.x * p.y;
  }
  return std::fabs(a) / 2;
}

double PolygonPerimeter(const Quad &q) {
  double l = 0;
  for (int i = 0; i < 4; i++) l += Distance(q[i], q[(i + 1) % 4]);
  return l;
}

bool PerspectiveTransform(const Quad &src, const Quad &dst, double h[9]) {
  // Solve the 8x8 system A * [h0..h7] = b (Gaussian elimination with partial pivoting).
  double a[8][9];
  for (int i = 0; i < 4; i++) {
    const double x = src[i].x, y = src[i].y, X = dst[i].x, Y = dst[i].y;
    double r0[9] = {x, y, 1, 0, 0, 0, -x * X, -y * X, X};
    double r1[9] = {0, 0, 0, x, y, 1, -x * Y, -y * Y, Y};
    std::copy(r0, r0 + 9, a[2 * i]);
    std::copy(r1, r1 + 9, a[2 * i + 1]);
  }
  for (int c = 0; c < 8; c++) {
    int piv = c;
    for (int r = c + 1; r < 8; r++)
      if (std::fabs(a[r][c]) > std::fabs(a[piv][c])) piv = r;
    if (std::fabs(a[piv][c]) < 1e-12) return false;
    if (piv != c)
      for (int k = 0; k < 9; k++) std::swap(a[c][k], a[piv][k]);
    for (int r = 0; r < 8; r++) {
      if (r == c) continue;
      const double f = a[r][c] / a[c][c];
      if (f == 0) continue;
      for (int k = c; k < 9; k++) a[r][k] -= f * a[c][k];
    }
  }
  for (int i = 0; i < 8; i++) h[i] = a[i][8] / a[i][i];
  h[8] = 1;
  return true;
}

}  // namespace ocr
}  // namespace memery

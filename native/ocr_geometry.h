// Plane geometry for OCR: convex hull, minimum-area rotated rectangle (rotating calipers over the
// hull's edges), PaddleOCR's corner orders, and the perspective transform of a quadrilateral.
#pragma once
#include <array>
#include <vector>

namespace memery {
namespace ocr {

struct Pt {
  double x = 0, y = 0;
};
using Quad = std::array<Pt, 4>;

struct RotatedRect {
  Pt center;
  double width = 0, height = 0;  // along the unit vector `axis` and its normal
  Pt axis{1, 0};
};

// Andrew's monotone chain; returns the hull counter-clockwise without repeated points.
std::vector<Pt> ConvexHull(std::vector<Pt> pts);

// The rectangle of least area that holds every point (a hull from ConvexHull). For one point or
// collinear points the rectangle has zero height (or width).
RotatedRect MinAreaRect(const std::vector<Pt> &hull);

// The four corners of a rotated rectangle, as OpenCV's boxPoints.
Quad Corners(const RotatedRect &r);

// PaddleOCR's get_mini_boxes order: corners sorted by x, then (left pair by y) top-left,
// (right pair by y) top-right, bottom-right, bottom-left.
Quad MiniBoxOrder(Quad q);

// PaddleOCR's order_points_clockwise: [min x+y, min y-x of the rest, max x+y, max y-x of the rest].
Quad ClockwiseOrder(const Quad &q);

double Distance(const Pt &a, const Pt &b);
double PolygonArea(const Quad &q);
double PolygonPerimeter(const Quad &q);

// A 3x3 homography mapping src[i] -> dst[i] (row-major, h[8] == 1). Returns false when the points
// are degenerate.
bool PerspectiveTransform(const Quad &src, const Quad &dst, double h[9]);
inline Pt Apply(const double h[9], double x, double y) {
  double w = h[6] * x + h[7] * y + h[8];
  if (w == 0) w = 1e-12;
  return {(h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w};
}

}  // namespace ocr
}  // namespace memery

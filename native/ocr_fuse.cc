#include "ocr_fuse.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <vector>

namespace memery {
namespace ocr {

namespace {

// ---- protobuf wire format ----

struct Field {
  uint32_t num = 0, wt = 0;
  uint64_t v = 0;          // varint / fixed value
  std::string_view data;   // payload of a length-delimited field
  std::string_view raw;    // the whole field, tag included
};

bool ReadVarint(const uint8_t *&p, const uint8_t *end, uint64_t &v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= end) return false;
    const uint8_t b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

bool Parse(std::string_view msg, std::vector<Field> &out) {
  const uint8_t *p = reinterpret_cast<const uint8_t *>(msg.data()), *end = p + msg.size();
  while (p < end) {
    const uint8_t *start = p;
    uint64_t tag;
    if (!ReadVarint(p, end, tag)) return false;
    Field f;
    f.num = static_cast<uint32_t>(tag >> 3);
    f.wt = static_cast<uint32_t>(tag & 7);
    switch (f.wt) {
      case 0:
        if (!ReadVarint(p, end, f.v)) return false;
        break;
      case 1:
        if (end - p < 8) return false;
        std::memcpy(&f.v, p, 8);
        p += 8;
        break;
      case 5: {
        if (end - p < 4) return false;
        uint32_t x;
        std::memcpy(&x, p, 4);
        f.v = x;
        p += 4;
        break;
      }
      case 2: {
        uint64_t len;
        if (!ReadVarint(p, end, len) || len > static_cast<uint64_t>(end - p)) return false;
        f.data = std::string_view(reinterpret_cast<const char *>(p), len);
        p += len;
        break;
      }
      default:
        return false;
    }
    f.raw = std::string_view(reinterpret_cast<const char *>(start), p - start);
    out.push_back(f);
  }
  return true;
}

void PutVarint(std::string &s, uint64_t v) {
  while (v >= 0x80) {
    s += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  s += static_cast<char>(v);
}
void PutTag(std::string &s, uint32_t num, uint32_t wt) { PutVarint(s, (static_cast<uint64_t>(num) << 3) | wt); }
void PutBytes(std::string &s, uint32_t num, std::string_view b) {
  PutTag(s, num, 2);
  PutVarint(s, b.size());
  s.append(b.data(), b.size());
}
void PutFloat(std::string &s, uint32_t num, float f) {
  PutTag(s, num, 5);
  char b[4];
  std::memcpy(b, &f, 4);
  s.append(b, 4);
}

// Repeated int64 (packed or not).
bool Int64s(const Field &f, std::vector<int64_t> &out) {
  if (f.wt == 0) {
    out.push_back(static_cast<int64_t>(f.v));
    return true;
  }
  if (f.wt != 2) return false;
  const uint8_t *p = reinterpret_cast<const uint8_t *>(f.data.data()), *end = p + f.data.size();
  while (p < end) {
    uint64_t v;
    if (!ReadVarint(p, end, v)) return false;
    out.push_back(static_cast<int64_t>(v));
  }
  return true;
}

// ---- the ONNX messages used here ----

struct Tensor {
  std::vector<int64_t> dims;
  std::vector<float> data;
};

// A float TensorProto (data_type 1, raw_data or float_data); false for anything else.
bool ParseTensor(std::string_view msg, Tensor &t, std::string *name) {
  std::vector<Field> fs;
  if (!Parse(msg, fs)) return false;
  int64_t type = 0;
  bool raw = false;
  for (const Field &f : fs) {
    if (f.num == 1) {
      if (!Int64s(f, t.dims)) return false;
    } else if (f.num == 2 && f.wt == 0) {
      type = static_cast<int64_t>(f.v);
    } else if (f.num == 8 && f.wt == 2) {
      if (name) *name = std::string(f.data);
    } else if (f.num == 9 && f.wt == 2) {
      if (f.data.size() % 4) return false;
      t.data.resize(f.data.size() / 4);
      std::memcpy(t.data.data(), f.data.data(), f.data.size());
      raw = true;
    } else if (f.num == 4) {
      if (f.wt == 5) {
        float x;
        uint32_t u = static_cast<uint32_t>(f.v);
        std::memcpy(&x, &u, 4);
        t.data.push_back(x);
      } else if (f.wt == 2 && f.data.size() % 4 == 0) {
        const size_t n = t.data.size();
        t.data.resize(n + f.data.size() / 4);
        std::memcpy(t.data.data() + n, f.data.data(), f.data.size());
      } else {
        return false;
      }
    } else if (f.num == 14) {
      return false;  // external data
    }
  }
  (void)raw;
  if (type != 1) return false;
  size_t n = 1;
  for (int64_t d : t.dims) {
    if (d < 0) return false;
    n *= static_cast<size_t>(d);
  }
  return n == t.data.size();
}

std::string TensorBytes(const std::string &name, const Tensor &t) {
  std::string s;
  for (int64_t d : t.dims) {
    PutTag(s, 1, 0);
    PutVarint(s, static_cast<uint64_t>(d));
  }
  PutTag(s, 2, 0);
  PutVarint(s, 1);
  PutBytes(s, 8, name);
  PutBytes(s, 9, std::string_view(reinterpret_cast<const char *>(t.data.data()), t.data.size() * 4));
  return s;
}

struct Attr {
  std::string name;
  bool hasF = false, hasI = false;
  float f = 0;
  int64_t i = 0;
  std::vector<int64_t> ints;
  std::string s;
  std::string_view tensor;
  std::string raw;  // the AttributeProto, as read
};

struct Node {
  std::string op, name, domain;
  std::vector<std::string> in, out;
  std::vector<Attr> attrs;
  bool dead = false;
  const Attr *attr(const char *n) const {
    for (const Attr &a : attrs)
      if (a.name == n) return &a;
    return nullptr;
  }
};

bool ParseAttr(std::string_view msg, Attr &a) {
  std::vector<Field> fs;
  if (!Parse(msg, fs)) return false;
  a.raw = std::string(msg);
  for (const Field &f : fs) {
    if (f.num == 1 && f.wt == 2) a.name = std::string(f.data);
    else if (f.num == 2 && f.wt == 5) {
      uint32_t u = static_cast<uint32_t>(f.v);
      std::memcpy(&a.f, &u, 4);
      a.hasF = true;
    } else if (f.num == 3 && f.wt == 0) {
      a.i = static_cast<int64_t>(f.v);
      a.hasI = true;
    } else if (f.num == 4 && f.wt == 2) {
      a.s = std::string(f.data);
    } else if (f.num == 5 && f.wt == 2) {
      a.tensor = f.data;
    } else if (f.num == 8) {
      if (!Int64s(f, a.ints)) return false;
    }
  }
  return true;
}

Attr FloatAttr(const char *name, float v) {
  Attr a;
  a.name = name;
  PutBytes(a.raw, 1, name);
  PutFloat(a.raw, 2, v);
  PutTag(a.raw, 20, 0);
  PutVarint(a.raw, 1);  // AttributeType FLOAT
  return a;
}

bool ParseNode(std::string_view msg, Node &n) {
  std::vector<Field> fs;
  if (!Parse(msg, fs)) return false;
  for (const Field &f : fs) {
    if (f.wt != 2) continue;
    if (f.num == 1) n.in.emplace_back(f.data);
    else if (f.num == 2) n.out.emplace_back(f.data);
    else if (f.num == 3) n.name = std::string(f.data);
    else if (f.num == 4) n.op = std::string(f.data);
    else if (f.num == 7) n.domain = std::string(f.data);
    else if (f.num == 5) {
      Attr a;
      if (!ParseAttr(f.data, a)) return false;
      n.attrs.push_back(std::move(a));
    }
  }
  return true;
}

std::string NodeBytes(const Node &n) {
  std::string s;
  for (const std::string &x : n.in) PutBytes(s, 1, x);
  for (const std::string &x : n.out) PutBytes(s, 2, x);
  if (!n.name.empty()) PutBytes(s, 3, n.name);
  PutBytes(s, 4, n.op);
  for (const Attr &a : n.attrs) PutBytes(s, 5, a.raw);
  if (!n.domain.empty()) PutBytes(s, 7, n.domain);
  return s;
}

// ---- the rewrites ----

class Fuser {
 public:
  std::vector<Node> nodes;
  std::map<std::string, Tensor> consts;
  std::set<std::string> graphOutputs;
  std::vector<std::pair<std::string, Tensor>> added;  // new initializers
  FuseStats stats;

  void Run() {
    for (bool progress = true; progress;) {
      progress = false;
      for (size_t i = 0; i < nodes.size(); i++) {
        if (nodes[i].dead) continue;
        if (ConvThenAffine(i) || HardSwish(i) || AddIntoConv(i) || ScaleIntoConv(i)) progress = true;
      }
    }
  }

 private:
  int fresh_ = 0;

  std::vector<size_t> Consumers(const std::string &name) const {
    std::vector<size_t> c;
    for (size_t i = 0; i < nodes.size(); i++) {
      if (nodes[i].dead) continue;
      for (const std::string &x : nodes[i].in)
        if (x == name) {
          c.push_back(i);
          break;
        }
    }
    return c;
  }
  // The one node that reads `name` (and no graph output), or -1.
  long Single(const std::string &name) const {
    if (graphOutputs.count(name)) return -1;
    auto c = Consumers(name);
    return c.size() == 1 ? static_cast<long>(c[0]) : -1;
  }
  const Tensor *Const(const std::string &name) const {
    auto it = consts.find(name);
    return it == consts.end() ? nullptr : &it->second;
  }
  // A binary node with one scalar float constant: its other input and the value.
  bool ScalarOperand(const Node &n, std::string &x, float &v) const {
    if (n.in.size() != 2) return false;
    const Tensor *a = Const(n.in[0]), *b = Const(n.in[1]);
    if (b && !a && b->data.size() == 1) {
      x = n.in[0], v = b->data[0];
      return true;
    }
    if (a && !b && a->data.size() == 1) {
      x = n.in[1], v = a->data[0];
      return true;
    }
    return false;
  }
  std::string Add(Tensor t) {
    std::string name = "memery_fused_" + std::to_string(++fresh_);
    consts[name] = t;
    added.emplace_back(name, std::move(t));
    return name;
  }
  // The conv's weight [O, I/g, kh, kw] and bias [O] (zeros when absent), if constant.
  bool ConvWeights(const Node &c, Tensor &w, Tensor &b) const {
    if (c.in.size() < 2 || c.in.size() > 3) return false;
    const Tensor *pw = Const(c.in[1]);
    if (!pw || pw->dims.size() < 3 || pw->dims[0] <= 0) return false;
    w = *pw;
    if (c.in.size() == 3 && !c.in[2].empty()) {
      const Tensor *pb = Const(c.in[2]);
      if (!pb || pb->data.size() != static_cast<size_t>(w.dims[0])) return false;
      b = *pb;
    } else {
      b.dims = {w.dims[0]};
      b.data.assign(static_cast<size_t>(w.dims[0]), 0.0f);
    }
    return true;
  }
  void SetConvWeights(Node &c, Tensor w, Tensor b) {
    const std::string wn = Add(std::move(w)), bn = Add(std::move(b));
    c.in = {c.in[0], wn, bn};
  }
  static bool NoPadding(const Node &c) {
    if (const Attr *a = c.attr("auto_pad"); a && !a->s.empty() && a->s != "NOTSET" && a->s != "VALID") return false;
    if (const Attr *a = c.attr("pads"))
      for (int64_t p : a->ints)
        if (p != 0) return false;
    return true;
  }
  static void AddPerOutput(Tensor &b, const Tensor &w, float v) {
    const size_t O = static_cast<size_t>(w.dims[0]), per = w.data.size() / O;
    for (size_t o = 0; o < O; o++) {
      double sum = 0;
      for (size_t k = 0; k < per; k++) sum += w.data[o * per + k];
      b.data[o] += static_cast<float>(v * sum);
    }
  }

  // Conv -> Mul(s) / Add(b): into the conv.
  bool ConvThenAffine(size_t i) {
    Node &c = nodes[i];
    if (c.op != "Conv" || c.out.size() != 1) return false;
    const long j = Single(c.out[0]);
    if (j < 0) return false;
    Node &nx = nodes[j];
    std::string x;
    float v;
    if ((nx.op != "Mul" && nx.op != "Add") || !ScalarOperand(nx, x, v) || x != c.out[0]) return false;
    Tensor w, b;
    if (!ConvWeights(c, w, b)) return false;
    if (nx.op == "Mul") {
      for (float &f : w.data) f *= v;
      for (float &f : b.data) f *= v;
      stats.convScale++;
    } else {
      for (float &f : b.data) f += v;
      stats.convBias++;
    }
    SetConvWeights(c, std::move(w), std::move(b));
    c.out[0] = nx.out[0];
    nx.dead = true;
    return true;
  }

  // Add(x, 3) -> Clip(0, 6) -> Mul(x, .) -> Div(6)  =>  HardSigmoid(x; 1/6, 1/2) -> Mul(x, .)
  bool HardSwish(size_t i) {
    Node &add = nodes[i];
    std::string x;
    float v;
    if (add.op != "Add" || !ScalarOperand(add, x, v) || v != 3.0f) return false;
    const long ci = Single(add.out[0]);
    if (ci < 0) return false;
    Node &clip = nodes[ci];
    if (clip.op != "Clip" || clip.in.empty() || clip.in[0] != add.out[0]) return false;
    float lo = 0, hi = 0;
    if (clip.in.size() >= 3) {
      const Tensor *a = Const(clip.in[1]), *b = Const(clip.in[2]);
      if (!a || !b || a->data.size() != 1 || b->data.size() != 1) return false;
      lo = a->data[0], hi = b->data[0];
    } else {
      const Attr *a = clip.attr("min"), *b = clip.attr("max");
      if (!a || !b || !a->hasF || !b->hasF) return false;
      lo = a->f, hi = b->f;
    }
    if (lo != 0.0f || hi != 6.0f) return false;
    const long mi = Single(clip.out[0]);
    if (mi < 0) return false;
    Node &mul = nodes[mi];
    if (mul.op != "Mul" || mul.in.size() != 2 ||
        !((mul.in[0] == x && mul.in[1] == clip.out[0]) || (mul.in[1] == x && mul.in[0] == clip.out[0])))
      return false;
    const long di = Single(mul.out[0]);
    if (di < 0) return false;
    Node &div = nodes[di];
    const Tensor *six = div.in.size() == 2 ? Const(div.in[1]) : nullptr;
    if (div.op != "Div" || div.in[0] != mul.out[0] || !six || six->data.size() != 1 || six->data[0] != 6.0f) return false;
    const std::string hs = "memery_hsig_" + std::to_string(++fresh_);
    add.op = "HardSigmoid";
    add.in = {x};
    add.out = {hs};
    add.attrs = {FloatAttr("alpha", 1.0f / 6.0f), FloatAttr("beta", 0.5f)};
    div.op = "Mul";
    div.in = {x, hs};
    div.attrs.clear();
    clip.dead = mul.dead = true;
    stats.hardswish++;
    return true;
  }

  // Add(x, b) -> Conv without padding: b * sum(W[o]) into the bias.
  bool AddIntoConv(size_t i) {
    Node &add = nodes[i];
    std::string x;
    float v;
    if (add.op != "Add" || !ScalarOperand(add, x, v)) return false;
    const long ci = Single(add.out[0]);
    if (ci < 0) return false;
    Node &c = nodes[ci];
    if (c.op != "Conv" || c.in[0] != add.out[0] || !NoPadding(c)) return false;
    Tensor w, b;
    if (!ConvWeights(c, w, b)) return false;
    AddPerOutput(b, w, v);
    SetConvWeights(c, std::move(w), std::move(b));
    c.in[0] = x;
    add.dead = true;
    stats.preBias++;
    return true;
  }

  // Mul(x, s) [-> Add(b)] -> Conv: s into the weights; b into the bias without padding, else the
  // Add stays as Add(x, b / s).
  bool ScaleIntoConv(size_t i) {
    Node &mul = nodes[i];
    std::string x;
    float s;
    if (mul.op != "Mul" || !ScalarOperand(mul, x, s) || s == 0.0f) return false;
    long ni = Single(mul.out[0]);
    if (ni < 0) return false;
    long ai = -1;
    float b = 0;
    if (nodes[ni].op == "Add") {
      std::string y;
      if (!ScalarOperand(nodes[ni], y, b) || y != mul.out[0]) return false;
      ai = ni;
      ni = Single(nodes[ai].out[0]);
      if (ni < 0) return false;
    }
    Node &c = nodes[ni];
    if (c.op != "Conv" || c.in[0] != (ai >= 0 ? nodes[ai].out[0] : mul.out[0])) return false;
    Tensor w, bias;
    if (!ConvWeights(c, w, bias)) return false;
    for (float &f : w.data) f *= s;
    if (ai < 0) {
      c.in[0] = x;
    } else if (NoPadding(c)) {
      AddPerOutput(bias, w, b / s);
      c.in[0] = x;
      nodes[ai].dead = true;
      stats.preBias++;
    } else {
      Tensor t;
      t.dims = {1};
      t.data = {b / s};
      nodes[ai].in = {x, Add(std::move(t))};
    }
    SetConvWeights(c, std::move(w), std::move(bias));
    mul.dead = true;
    stats.preScale++;
    return true;
  }
};

std::string FuseGraph(std::string_view graph, FuseStats &stats) {
  std::vector<Field> fs;
  if (!Parse(graph, fs)) return {};
  Fuser fu;
  for (const Field &f : fs) {
    if (f.num == 1 && f.wt == 2) {
      Node n;
      if (!ParseNode(f.data, n)) return {};
      if (n.op == "Constant" && n.out.size() == 1)
        if (const Attr *a = n.attr("value"); a && !a->tensor.empty()) {
          Tensor t;
          if (ParseTensor(a->tensor, t, nullptr)) fu.consts[n.out[0]] = std::move(t);
        }
      fu.nodes.push_back(std::move(n));
    } else if (f.num == 5 && f.wt == 2) {
      Tensor t;
      std::string name;
      if (ParseTensor(f.data, t, &name) && !name.empty()) fu.consts[name] = std::move(t);
    } else if (f.num == 12 && f.wt == 2) {
      std::vector<Field> vi;
      if (!Parse(f.data, vi)) return {};
      for (const Field &v : vi)
        if (v.num == 1 && v.wt == 2) fu.graphOutputs.insert(std::string(v.data));
    }
  }
  fu.Run();
  stats = fu.stats;
  if (stats.total() == 0) return {};
  // Constants no live node reads any more are left out.
  std::set<std::string> used(fu.graphOutputs);
  for (const Node &n : fu.nodes)
    if (!n.dead)
      for (const std::string &x : n.in) used.insert(x);
  std::string out;
  bool nodesWritten = false;
  for (const Field &f : fs) {
    if (f.num == 1 && f.wt == 2) {
      if (nodesWritten) continue;
      nodesWritten = true;
      for (const Node &n : fu.nodes) {
        if (n.dead || (n.op == "Constant" && n.out.size() == 1 && !used.count(n.out[0]))) continue;
        PutBytes(out, 1, NodeBytes(n));
      }
    } else {
      out.append(f.raw.data(), f.raw.size());
    }
  }
  for (const auto &[name, t] : fu.added)
    if (used.count(name)) PutBytes(out, 5, TensorBytes(name, t));
  return out;
}

}  // namespace

std::string FuseModel(const std::string &model, FuseStats *stats) {
  std::vector<Field> fs;
  if (!Parse(model, fs)) return {};
  FuseStats st;
  std::string out;
  bool done = false;
  for (const Field &f : fs) {
    if (f.num == 7 && f.wt == 2 && !done) {
      std::string g = FuseGraph(f.data, st);
      if (g.empty()) return {};
      PutBytes(out, 7, g);
      done = true;
    } else {
      out.append(f.raw.data(), f.raw.size());
    }
  }
  if (!done) return {};
  if (stats) *stats = st;
  return out;
}

}  // namespace ocr
}  // namespace memery

// Data-parallel collectives on libtorch's c10d: ProcessGroupGloo on CPU (ProcessGroupNCCL in CUDA
// builds), rendezvous through a TCPStore or FileStore under a PrefixStore, as torch.distributed's
// env:// and file:// methods do.
//
// Every collective is enqueued on the JS thread and returns a Promise. c10d runs it on its own
// threads and completes its Work's future; the future's callback hands the result back to the JS
// thread through a ThreadSafeFunction, which resolves or rejects the Promise. So a collective never
// blocks the event loop (a blocking all-reduce froze it for 42-71 ms), and a dead or stuck peer
// rejects it with an EngineError naming the op and this rank. The first failure marks the group
// failed: every later call rejects at once instead of waiting on a broken connection.
//
// Built with the collectives when binding.gyp finds the Gloo headers (SALN_WITH_DIST); otherwise
// only distAvailable() is exported, and it says false.
#include <torch/version.h>

#include "addon_data.h"
#include "common.h"

#ifdef SALN_WITH_DIST
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef SALN_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#endif

namespace saln {

#ifndef SALN_WITH_DIST

void InitDist(Napi::Env env, Napi::Object exports) {
  exports.Set("distAvailable", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    return Napi::Boolean::New(info.Env(), false);
  }, "distAvailable"));
}

#else

// libtorch 2.x split ProcessGroup into a dispatcher over Backends, and ProcessGroupGloo/NCCL became
// Backends; 1.13 has them as ProcessGroups. Both expose the same collective methods. Other 2.x
// changes this file stays clear of: Options derive from Backend::Options (same timeout field),
// createDefaultDevice/createDeviceForInterface gained a defaulted lazyInit argument, TCPStoreOptions
// gained useLibUV (defaulted), and ProcessGroupGloo.hpp is guarded by USE_C10D_GLOO (binding.gyp
// defines it).
#if TORCH_VERSION_MAJOR >= 2
using PgBase = c10d::Backend;
#else
using PgBase = c10d::ProcessGroup;
#endif

using Ms = std::chrono::milliseconds;

// One process group. Shared by the JS handle and every collective in flight, so that dropping the
// handle never frees a group c10d is still using.
struct Group {
  c10::intrusive_ptr<PgBase> pg;
  std::string backend;
  int rank = 0;
  int size = 1;
  std::mutex mu;
  std::string failure;  // the first error; non-empty: the group is broken
  bool destroyed = false;

  void MarkFailed(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu);
    if (failure.empty()) failure = why;
  }
  std::string Failure() {
    std::lock_guard<std::mutex> lock(mu);
    return failure;
  }
};

struct GroupBox {
  std::shared_ptr<Group> g;
};

static constexpr napi_type_tag kGroupTag = {0x2d7c51e08a934b6fULL, 0xb1e4a07c39d2f655ULL};

// The EngineError the rest of the addon throws, with the op and this rank on it.
static Napi::Value DistError(Napi::Env env, const std::string& op, int rank, int size, const std::string& what) {
  std::ostringstream os;
  os << op << " (rank " << rank << " of " << size << "): " << what;
  auto* data = env.GetInstanceData<AddonData>();
  Napi::Object err = data && !data->errorClass.IsEmpty() ? data->errorClass.New({Napi::String::New(env, os.str())})
                                                         : Napi::Error::New(env, os.str()).Value();
  err.Set("op", Napi::String::New(env, op));
  err.Set("rank", Napi::Number::New(env, rank));
  return err;
}

static Napi::Value Rejected(Napi::Env env, Napi::Value err) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(err);
  return d.Promise();
}

// ---- init

struct InitOptions {
  std::string backend;  // "gloo" | "nccl"
  std::string store;    // "tcp" | "file"
  int rank = 0;
  int size = 1;
  std::string host;
  int port = 0;
  std::string path;
  int64_t timeoutMs = 1800000;            // each collective
  int64_t rendezvousTimeoutMs = 1800000;  // joining: the store and connecting the group
  std::vector<std::string> ifnames;  // GLOO_SOCKET_IFNAME, split
};

static c10::intrusive_ptr<c10d::Store> MakeStore(const InitOptions& o) {
  const Ms timeout(o.rendezvousTimeoutMs);
  c10::intrusive_ptr<c10d::Store> store;
  if (o.store == "tcp") {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(o.port);
    so.isServer = o.rank == 0;  // env://: rank 0 hosts the store
    so.numWorkers = static_cast<std::size_t>(o.size);
    so.waitWorkers = true;  // the constructor returns once every rank has joined, or throws at the timeout
    so.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(o.host, so);
  } else {
    store = c10::make_intrusive<c10d::FileStore>(o.path, o.size);
    store->setTimeout(timeout);
  }
  return c10::make_intrusive<c10d::PrefixStore>("default_pg", store);
}

static c10::intrusive_ptr<PgBase> MakeGloo(const c10::intrusive_ptr<c10d::Store>& store, const InitOptions& o) {
  auto opts = c10d::ProcessGroupGloo::Options::create(Ms(o.timeoutMs));
  // As torch.distributed does: one device per GLOO_SOCKET_IFNAME interface, else the hostname's
  // address (or loopback when it does not resolve); two worker threads per device.
  for (const auto& name : o.ifnames) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
  if (opts->devices.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  opts->threads = static_cast<int>(opts->devices.size()) * 2;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.size, opts);
}

static c10::intrusive_ptr<PgBase> MakeNccl(const c10::intrusive_ptr<c10d::Store>& store, const InitOptions& o) {
#ifdef SALN_WITH_NCCL
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = Ms(o.timeoutMs);
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, o.rank, o.size, opts);
#else
  throw std::runtime_error("backend 'nccl' needs a CUDA build of saln with NCCL headers (this one has Gloo only)");
#endif
}

// Rendezvous and connecting the group block until every rank has joined (or the timeout), so they
// run on a worker thread.
class InitWorker : public Napi::AsyncWorker {
 public:
  InitWorker(Napi::Env env, InitOptions o) : Napi::AsyncWorker(env, "saln.dist.init"), o_(std::move(o)), d_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return d_.Promise(); }

  void Execute() override {
    try {
      auto store = MakeStore(o_);
      g_ = std::make_shared<Group>();
      g_->backend = o_.backend;
      g_->rank = o_.rank;
      g_->size = o_.size;
      g_->pg = o_.backend == "nccl" ? MakeNccl(store, o_) : MakeGloo(store, o_);
    } catch (const c10::Error& e) {
      SetError(e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override {
    auto ext = Napi::External<GroupBox>::New(Env(), new GroupBox{std::move(g_)}, [](Napi::Env, GroupBox* b) { delete b; });
    ext.TypeTag(&kGroupTag);
    d_.Resolve(ext);
  }

  void OnError(const Napi::Error& e) override {
    std::string where = o_.store == "tcp" ? "tcp://" + o_.host + ":" + std::to_string(o_.port) : "file://" + o_.path;
    d_.Reject(DistError(Env(), "initProcessGroup", o_.rank, o_.size,
                        "joining " + std::to_string(o_.size) + " ranks (" + o_.backend + ") at " + where + " failed: " + e.Message()));
  }

 private:
  InitOptions o_;
  Napi::Promise::Deferred d_;
  std::shared_ptr<Group> g_;
};

static std::vector<std::string> Strings(const Napi::Value& v) {
  std::vector<std::string> out;
  if (!v.IsArray()) return out;
  auto arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

// distInit({ backend, store, rank, worldSize, host, port, path, timeoutMs, rendezvousTimeoutMs, ifnames }) -> Promise<group>
SALN_OP(distInit, "initProcessGroup") {
  auto o = call.Info()[0].As<Napi::Object>();
  InitOptions opts;
  opts.backend = o.Get("backend").As<Napi::String>().Utf8Value();
  opts.store = o.Get("store").As<Napi::String>().Utf8Value();
  opts.rank = o.Get("rank").As<Napi::Number>().Int32Value();
  opts.size = o.Get("worldSize").As<Napi::Number>().Int32Value();
  opts.host = o.Get("host").As<Napi::String>().Utf8Value();
  opts.port = o.Get("port").As<Napi::Number>().Int32Value();
  opts.path = o.Get("path").As<Napi::String>().Utf8Value();
  opts.timeoutMs = o.Get("timeoutMs").As<Napi::Number>().Int64Value();
  opts.rendezvousTimeoutMs = o.Get("rendezvousTimeoutMs").As<Napi::Number>().Int64Value();
  opts.ifnames = Strings(o.Get("ifnames"));
  auto* w = new InitWorker(call.Env(), std::move(opts));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// ---- collectives

// One call in flight: its Works, the tensors they use (kept alive until the end), and what to do
// on the JS thread when every Work has completed. Created and deleted on the JS thread.
struct Pending {
  explicit Pending(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  std::shared_ptr<Group> group;
  std::string op;
  Napi::Promise::Deferred deferred;
  std::vector<at::Tensor> keep;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  std::function<Napi::Value(Napi::Env)> finish;  // the resolved value; undefined when empty
  std::atomic<size_t> remaining{0};
  std::mutex mu;
  std::string error;  // the first Work's error, set on a c10d thread
};

static void CompleteOnJsThread(Napi::Env env, Napi::Function, std::nullptr_t*, Pending* raw) {
  std::unique_ptr<Pending> p(raw);
  if (env == nullptr) return;  // the environment is shutting down
  Group& g = *p->group;
  std::string error = p->error;
  if (error.empty()) {
    try {
      // Makes the caller's stream wait for the collective (NCCL); returns at once for Gloo.
      for (auto& w : p->works) w->wait();
      p->deferred.Resolve(p->finish ? p->finish(env) : env.Undefined());
      return;
    } catch (const Napi::Error& e) {
      error = e.Message();
    } catch (const c10::Error& e) {
      error = e.what_without_backtrace();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  g.MarkFailed(p->op + ": " + error);
  p->deferred.Reject(DistError(env, p->op, g.rank, g.size, error));
}

using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Pending, CompleteOnJsThread>;

static std::shared_ptr<Group> GetGroup(saln::Call& call) {
  const auto& v = call.Info()[0];
  if (!v.IsExternal()) call.Fail("argument 0 is not a process group");
  auto ext = v.As<Napi::External<GroupBox>>();
  if (!ext.CheckTypeTag(&kGroupTag)) call.Fail("argument 0 is not a process group");
  return ext.Data()->g;
}

// Issues the Works that `start` returns and resolves the returned Promise when all have completed.
// c10d completes each Work's future on its own threads; the last one to finish hands `p` to the
// JS thread. The failure check comes first so a broken group rejects at once.
static Napi::Value Launch(saln::Call& call, const char* op, std::vector<at::Tensor> keep,
                          const std::function<std::vector<c10::intrusive_ptr<c10d::Work>>(PgBase&)>& start,
                          std::function<Napi::Value(Napi::Env)> finish = nullptr) {
  Napi::Env env = call.Env();
  std::shared_ptr<Group> g = GetGroup(call);
  if (!g || g->destroyed) return Rejected(env, DistError(env, op, g ? g->rank : -1, g ? g->size : 0, "the process group was destroyed"));
  std::string failure = g->Failure();
  if (!failure.empty()) return Rejected(env, DistError(env, op, g->rank, g->size, "the process group failed earlier (" + failure + ")"));

  auto p = std::make_unique<Pending>(env);
  p->group = g;
  p->op = op;
  p->keep = std::move(keep);
  p->finish = std::move(finish);
  try {
    p->works = start(*g->pg);
  } catch (const c10::Error& e) {
    return Rejected(env, DistError(env, op, g->rank, g->size, e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return Rejected(env, DistError(env, op, g->rank, g->size, e.what()));
  }
  Napi::Promise promise = p->deferred.Promise();
  if (p->works.empty()) {
    p->deferred.Resolve(p->finish ? p->finish(env) : env.Undefined());
    return promise;
  }
  p->remaining = p->works.size();
  Tsfn tsfn = Tsfn::New(env, "saln.dist", 0, 1);
  Pending* raw = p.release();
  // Copied first: a callback may complete the last Work, and with it `raw`, while we still loop.
  auto futures = std::vector<c10::intrusive_ptr<c10::ivalue::Future>>();
  for (auto& w : raw->works) futures.push_back(w->getFuture());
  for (auto& f : futures) {
    f->addCallback([raw, tsfn](c10::ivalue::Future& done) mutable {
      if (done.hasError()) {
        std::lock_guard<std::mutex> lock(raw->mu);
        if (raw->error.empty()) raw->error = done.tryRetrieveErrorMessage();
      }
      if (raw->remaining.fetch_sub(1) == 1) {
        Tsfn t = tsfn;  // raw may be gone once the JS thread has it
        t.BlockingCall(raw);
        t.Release();
      }
    });
  }
  return promise;
}

static c10d::ReduceOp ReduceOpFromCode(int64_t code) {
  switch (code) {
    case 0: return c10d::ReduceOp::SUM;
    case 1: return c10d::ReduceOp::PRODUCT;
    case 2: return c10d::ReduceOp::MIN;
    case 3: return c10d::ReduceOp::MAX;
    default: throw std::invalid_argument("unknown reduce op code " + std::to_string(code));
  }
}

// distAllReduce(group, tensors, opCode) -> Promise<void>: reduces each tensor in place across the
// ranks, one collective per tensor, all in flight together (gradient buckets).
SALN_OP(distAllReduce, "allReduce") {
  std::vector<at::Tensor> ts = call.TList(1);
  c10d::AllreduceOptions opts;
  opts.reduceOp = ReduceOpFromCode(call.I(2));
  return Launch(call, "allReduce", ts, [ts, opts](PgBase& pg) {
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (const auto& t : ts) {
      std::vector<at::Tensor> one{t};
      works.push_back(pg.allreduce(one, opts));
    }
    return works;
  });
}

// distBroadcast(group, tensors, src) -> Promise<void>: rank src's values into every rank's tensors.
SALN_OP(distBroadcast, "broadcast") {
  std::vector<at::Tensor> ts = call.TList(1);
  c10d::BroadcastOptions opts;
  opts.rootRank = call.I(2);
  return Launch(call, "broadcast", ts, [ts, opts](PgBase& pg) {
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (const auto& t : ts) {
      std::vector<at::Tensor> one{t};
      works.push_back(pg.broadcast(one, opts));
    }
    return works;
  });
}

// distAllGather(group, t) -> Promise<handle[]>: every rank's t, in rank order.
SALN_OP(distAllGather, "allGather") {
  at::Tensor t = call.T(1).contiguous();
  int size = GetGroup(call)->size;
  auto outs = std::make_shared<std::vector<std::vector<at::Tensor>>>(1);
  for (int i = 0; i < size; i++) (*outs)[0].push_back(at::empty_like(t));
  std::vector<at::Tensor> keep = (*outs)[0];
  keep.push_back(t);
  return Launch(
      call, "allGather", keep,
      [outs, t](PgBase& pg) {
        std::vector<at::Tensor> in{t};
        return std::vector<c10::intrusive_ptr<c10d::Work>>{pg.allgather(*outs, in)};
      },
      [outs](Napi::Env env) { return WrapMany(env, (*outs)[0]); });
}

SALN_OP(distBarrier, "barrier") {
  return Launch(call, "barrier", {}, [](PgBase& pg) {
    return std::vector<c10::intrusive_ptr<c10d::Work>>{pg.barrier(c10d::BarrierOptions())};
  });
}

// distBroadcastCoalesced(group, tensors, src, bucketBytes) -> Promise<void>: as c10d's
// broadcast_coalesced (DDP's start-up sync), but not blocking: runs of same-dtype tensors are
// flattened into buckets of about bucketBytes, each bucket broadcast, and the results copied back
// into the tensors on the JS thread.
SALN_OP(distBroadcastCoalesced, "broadcastCoalesced") {
  std::vector<at::Tensor> ts = call.TList(1);
  c10d::BroadcastOptions opts;
  opts.rootRank = call.I(2);
  const int64_t bucketBytes = call.I(3);
  at::NoGradGuard noGrad;  // parameters are leaves that require grad: no graph for the flattening
  // Buckets as index ranges into ts.
  std::vector<std::pair<size_t, size_t>> ranges;
  int64_t bytes = 0;
  for (size_t i = 0; i < ts.size(); i++) {
    bool same = !ranges.empty() && ts[i].scalar_type() == ts[ranges.back().first].scalar_type() &&
                ts[i].device() == ts[ranges.back().first].device();
    if (same && bytes + static_cast<int64_t>(ts[i].nbytes()) <= bucketBytes) {
      ranges.back().second = i + 1;
      bytes += static_cast<int64_t>(ts[i].nbytes());
    } else {
      ranges.emplace_back(i, i + 1);
      bytes = static_cast<int64_t>(ts[i].nbytes());
    }
  }
  auto flats = std::make_shared<std::vector<at::Tensor>>();
  for (const auto& r : ranges) {
    std::vector<at::Tensor> views;
    for (size_t i = r.first; i < r.second; i++) views.push_back(ts[i].reshape({-1}));
    flats->push_back(at::cat(views));
  }
  std::vector<at::Tensor> keep = ts;
  keep.insert(keep.end(), flats->begin(), flats->end());
  return Launch(
      call, "broadcastCoalesced", keep,
      [flats, opts](PgBase& pg) {
        std::vector<c10::intrusive_ptr<c10d::Work>> works;
        for (auto& f : *flats) {
          std::vector<at::Tensor> one{f};
          works.push_back(pg.broadcast(one, opts));
        }
        return works;
      },
      [flats, ranges, ts](Napi::Env env) {
        at::NoGradGuard noGrad;  // parameters are leaves that require grad
        for (size_t b = 0; b < ranges.size(); b++) {
          int64_t offset = 0;
          for (size_t i = ranges[b].first; i < ranges[b].second; i++) {
            int64_t n = ts[i].numel();
            ts[i].copy_((*flats)[b].narrow(0, offset, n).view(ts[i].sizes()));
            offset += n;
          }
        }
        return env.Undefined();
      });
}

// distDestroy(group): releases the group (c10d joins its threads); later calls reject.
SALN_OP(distDestroy, "destroyProcessGroup") {
  std::shared_ptr<Group> g = GetGroup(call);
  if (!g->destroyed) {
    g->destroyed = true;
    g->pg.reset();
  }
  return call.Env().Undefined();
}

// distSetGrad(param, grad): sets param.grad. The gradient bucketer gives a parameter that had no
// gradient on this rank the group's average, as DDP does for unused parameters.
SALN_OP(distSetGrad, "setGrad") {
  call.T(0).mutable_grad() = call.T(1);
  return call.Env().Undefined();
}

// distIsSame(a, b): whether two handles hold the same tensor (not a copy): the bucketer checks that
// each gradient is still its bucket view.
SALN_OP(distIsSame, "isSame") { return Napi::Boolean::New(call.Env(), call.T(0).is_same(call.T(1))); }

SALN_OP(distAvailable, "distAvailable") { return Napi::Boolean::New(call.Env(), true); }

SALN_OP(distBackends, "distBackends") {
  auto arr = Napi::Array::New(call.Env());
  arr.Set(0u, Napi::String::New(call.Env(), "gloo"));
#ifdef SALN_WITH_NCCL
  arr.Set(1u, Napi::String::New(call.Env(), "nccl"));
#endif
  return arr;
}

void InitDist(Napi::Env env, Napi::Object exports) {
  SALN_EXPORT(exports, distAvailable);
  SALN_EXPORT(exports, distBackends);
  SALN_EXPORT(exports, distInit);
  SALN_EXPORT(exports, distAllReduce);
  SALN_EXPORT(exports, distBroadcast);
  SALN_EXPORT(exports, distAllGather);
  SALN_EXPORT(exports, distBarrier);
  SALN_EXPORT(exports, distBroadcastCoalesced);
  SALN_EXPORT(exports, distDestroy);
  SALN_EXPORT(exports, distSetGrad);
  SALN_EXPORT(exports, distIsSame);
}

#endif  // SALN_WITH_DIST

}  // namespace saln

// Views, joins and indexing.
#include "addon_data.h"
#include "common.h"

namespace saln {

SALN_OP(reshape, "reshape") { return Wrap(call.Env(), call.T(0).reshape(call.Ints(1))); }
SALN_OP(view, "view") { return Wrap(call.Env(), call.T(0).view(call.Ints(1))); }
SALN_OP(permute, "permute") { return Wrap(call.Env(), call.T(0).permute(call.Ints(1))); }
SALN_OP(transpose, "transpose") { return Wrap(call.Env(), call.T(0).transpose(call.I(1), call.I(2))); }
SALN_OP(expand, "expand") { return Wrap(call.Env(), call.T(0).expand(call.Ints(1))); }
SALN_OP(repeat, "repeat") { return Wrap(call.Env(), call.T(0).repeat(call.Ints(1))); }
SALN_OP(flatten, "flatten") { return Wrap(call.Env(), call.T(0).flatten(call.I(1), call.I(2))); }
SALN_OP(squeeze, "squeeze") { return Wrap(call.Env(), call.Has(1) ? call.T(0).squeeze(call.I(1)) : call.T(0).squeeze()); }
SALN_OP(unsqueeze, "unsqueeze") { return Wrap(call.Env(), call.T(0).unsqueeze(call.I(1))); }
SALN_OP(flip, "flip") { return Wrap(call.Env(), call.T(0).flip(call.Ints(1))); }
SALN_OP(cat, "cat") { return Wrap(call.Env(), at::cat(call.TList(0), call.I(1))); }
SALN_OP(stack, "stack") { return Wrap(call.Env(), at::stack(call.TList(0), call.I(1))); }
// narrow(t, dim, start, length): a view
SALN_OP(narrow, "narrow") { return Wrap(call.Env(), call.T(0).narrow(call.I(1), call.I(2), call.I(3))); }
// slice(t, dim, start, end, step): a view
SALN_OP(slice, "slice") { return Wrap(call.Env(), call.T(0).slice(call.I(1), call.I(2), call.I(3), call.I(4))); }
SALN_OP(select, "select") { return Wrap(call.Env(), call.T(0).select(call.I(1), call.I(2))); }
SALN_OP(indexSelect, "indexSelect") { return Wrap(call.Env(), at::index_select(call.T(0), call.I(1), call.T(2))); }
SALN_OP(gather, "gather") { return Wrap(call.Env(), at::gather(call.T(0), call.I(1), call.T(2))); }
SALN_OP(scatter, "scatter") { return Wrap(call.Env(), at::scatter(call.T(0), call.I(1), call.T(2), call.T(3))); }
SALN_OP(maskedSelect, "maskedSelect") { return Wrap(call.Env(), at::masked_select(call.T(0), call.T(1))); }
SALN_OP(nonzero, "nonzero") { return Wrap(call.Env(), at::nonzero(call.T(0))); }
SALN_OP(oneHot, "oneHot") { return Wrap(call.Env(), at::one_hot(call.T(0), call.I(1))); }
SALN_OP(tril, "tril") { return Wrap(call.Env(), at::tril(call.T(0), call.I(1))); }
SALN_OP(diag, "diag") { return Wrap(call.Env(), at::diag(call.T(0), call.I(1))); }
SALN_OP(diagEmbed, "diagEmbed") { return Wrap(call.Env(), at::diag_embed(call.T(0))); }

void InitShape(Napi::Env env, Napi::Object exports) {
  SALN_EXPORT(exports, reshape);
  SALN_EXPORT(exports, view);
  SALN_EXPORT(exports, permute);
  SALN_EXPORT(exports, transpose);
  SALN_EXPORT(exports, expand);
  SALN_EXPORT(exports, repeat);
  SALN_EXPORT(exports, flatten);
  SALN_EXPORT(exports, squeeze);
  SALN_EXPORT(exports, unsqueeze);
  SALN_EXPORT(exports, flip);
  SALN_EXPORT(exports, cat);
  SALN_EXPORT(exports, stack);
  SALN_EXPORT(exports, narrow);
  SALN_EXPORT(exports, slice);
  SALN_EXPORT(exports, select);
  SALN_EXPORT(exports, indexSelect);
  SALN_EXPORT(exports, gather);
  SALN_EXPORT(exports, scatter);
  SALN_EXPORT(exports, maskedSelect);
  SALN_EXPORT(exports, nonzero);
  SALN_EXPORT(exports, oneHot);
  SALN_EXPORT(exports, tril);
  SALN_EXPORT(exports, diag);
  SALN_EXPORT(exports, diagEmbed);
}

}  // namespace saln

{
  "targets": [{
    "target_name": "saln_native",
    "sources": [
      "native/src/addon.cc", "native/src/runtime.cc", "native/src/common.cc", "native/src/ops_create.cc",
      "native/src/ops_math.cc", "native/src/ops_shape.cc", "native/src/ops_nn.cc", "native/src/ops_autograd.cc", "native/src/amp.cc", "native/src/cpu_allocator.cc",
      "native/src/dist.cc"
    ],
    "variables": {
      "saln_dist%": "<!(node native/libtorch-config.cjs dist)",
      "saln_nccl%": "<!(node native/libtorch-config.cjs nccl)"
    },
    "include_dirs": [
      "<!@(node -p \"require('node-addon-api').include_dir\")",
      "<!@(node native/libtorch-config.cjs includes)"
    ],
    "defines": ["NAPI_EXPERIMENTAL", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "_GLIBCXX_USE_CXX11_ABI=<!(node native/libtorch-config.cjs abi)"],
    "cflags!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14", "-std=gnu++20"],
    "cflags_cc": ["-std=<!(node native/libtorch-config.cjs std)", "-fexceptions", "-frtti", "-O2", "-Wno-deprecated-declarations", "-Wno-unused-parameter"],
    "libraries": [
      "-L<!(node native/libtorch-config.cjs libdir)",
      "-Wl,-rpath,<!(node native/libtorch-config.cjs libdir)",
      "<!@(node native/libtorch-config.cjs libs)"
    ],
    "conditions": [
      ["saln_dist==1", {
        "defines": ["USE_DISTRIBUTED", "USE_C10D_GLOO", "SALN_WITH_DIST"],
        "include_dirs": ["<!@(node native/libtorch-config.cjs dist-includes)"]
      }],
      ["saln_nccl==1", {
        "defines": ["USE_C10D_NCCL", "SALN_WITH_NCCL"],
        "include_dirs": ["<!@(node native/libtorch-config.cjs nccl-includes)"]
      }]
    ]
  }]
}

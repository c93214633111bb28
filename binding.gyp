{
  "targets": [{
    "target_name": "saln_native",
    "sources": [
      "native/src/addon.cc", "native/src/runtime.cc", "native/src/common.cc", "native/src/ops_create.cc",
      "native/src/ops_math.cc", "native/src/ops_shape.cc", "native/src/ops_nn.cc", "native/src/ops_autograd.cc", "native/src/amp.cc", "native/src/cpu_allocator.cc"
    ],
    "include_dirs": [
      "<!@(node -p \"require('node-addon-api').include_dir\")",
      "<!@(node native/libtorch-config.cjs includes)"
    ],
    "defines": ["NAPI_EXPERIMENTAL", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "_GLIBCXX_USE_CXX11_ABI=<!(node native/libtorch-config.cjs abi)"],
    "cflags!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-deprecated-declarations", "-Wno-unused-parameter"],
    "libraries": [
      "-L<!(node native/libtorch-config.cjs libdir)",
      "-Wl,-rpath,<!(node native/libtorch-config.cjs libdir)",
      "<!@(node native/libtorch-config.cjs libs)"
    ]
  }]
}

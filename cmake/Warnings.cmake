# Warnings (errors with CUIS_WERROR) for C++ and CUDA sources of a target.
function(cuis_set_warnings target)
  set(cxx -Wall -Wextra -Wpedantic -Wshadow -Wno-pedantic)
  set(cuda -Xcompiler=-Wall,-Wextra -Xcudafe=--display_error_number)
  if(CUIS_WERROR)
    list(APPEND cxx -Werror)
    list(APPEND cuda -Werror=all-warnings -Xcompiler=-Werror)
  endif()
  target_compile_options(${target} PRIVATE
    "$<$<COMPILE_LANGUAGE:CXX>:${cxx}>"
    "$<$<COMPILE_LANGUAGE:CUDA>:${cuda}>")
endfunction()

# cmake --install: headers, the library and a package config, so that another
# project does find_package(cuis) and links cuis::cuis.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS cuis EXPORT cuisTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/cuis DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT cuisTargets NAMESPACE cuis:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cuis)
configure_package_config_file(cmake/cuisConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/cuisConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cuis)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/cuisConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/cuisConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/cuisConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cuis)
if(CUIS_BUILD_TOOLS)
  install(TARGETS cuis-sample cuis-train cuis-demo RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

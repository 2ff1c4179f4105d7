# `cmake --install` and CPack: the four binaries and the example worker, the
# public headers, leaseq::worker as an installed CMake package
# (find_package(leaseq)), man pages made from each binary's --help, the
# systemd units, and a .deb whose dependencies are the runtime libraries
# dpkg-shlibdeps finds (docs/deploy.md).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LEASEQ_PROGRAMS leaseq-broker leaseq-worker leaseq-submit leaseq-ctl leaseq-example-worker)
install(TARGETS ${LEASEQ_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/leaseq DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# leaseq::worker, installed as one archive: the public library and the
# internal ones it links (worker loop, common code), merged with ar, so that
# a user's project sees include/leaseq/ only and links libzmq and pthreads,
# nothing else (the other dependencies are header-only).
set(LEASEQ_WORKER_ARCHIVE ${PROJECT_BINARY_DIR}/lib/libleaseq_worker.a)
set(LEASEQ_WORKER_PARTS leaseq_worker leaseq_worker_lib leaseq_common)
set(mri "create ${LEASEQ_WORKER_ARCHIVE}\n")
foreach(part ${LEASEQ_WORKER_PARTS})
  string(APPEND mri "addlib $<TARGET_FILE:${part}>\n")
endforeach()
string(APPEND mri "save\nend\n")
file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/lib/leaseq_worker.mri CONTENT "${mri}")
add_custom_command(OUTPUT ${LEASEQ_WORKER_ARCHIVE}
  COMMAND ${CMAKE_COMMAND} -E rm -f ${LEASEQ_WORKER_ARCHIVE}
  COMMAND ${CMAKE_AR} -M < ${PROJECT_BINARY_DIR}/lib/leaseq_worker.mri
  # Without debug info: 46 MB with it in a RelWithDebInfo build, about 3 MB without.
  COMMAND ${CMAKE_STRIP} --strip-debug ${LEASEQ_WORKER_ARCHIVE}
  DEPENDS ${LEASEQ_WORKER_PARTS} ${PROJECT_BINARY_DIR}/lib/leaseq_worker.mri
  COMMENT "Merging leaseq::worker into one archive for installation")
add_custom_target(leaseq_worker_archive ALL DEPENDS ${LEASEQ_WORKER_ARCHIVE})
install(FILES ${LEASEQ_WORKER_ARCHIVE} DESTINATION ${CMAKE_INSTALL_LIBDIR})

set(LEASEQ_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/leaseq)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/leaseqConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/leaseqConfig.cmake
  INSTALL_DESTINATION ${LEASEQ_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/leaseqConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/leaseqConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/leaseqConfigVersion.cmake
        DESTINATION ${LEASEQ_CMAKE_DIR})

# Man pages from --help: help2man where it is installed (make deps installs
# it), else a plain page of the --help text (cmake/ManPage.cmake). Offline
# either way.
# Not in sanitizer builds: nobody installs those, and a sanitizer report at
# exit would fail the page.
if(NOT LEASEQ_SANITIZE)
  find_program(HELP2MAN help2man)
  set(summary_leaseq-broker "the leaseq broker: tasks, leases and suspicion in one SQLite file")
  set(summary_leaseq-worker "a leaseq worker: runs tasks leased from the broker")
  set(summary_leaseq-submit "submit tasks to a leaseq broker")
  set(summary_leaseq-ctl "look at and steer a leaseq broker")
  set(summary_leaseq-example-worker "a leaseq worker with functions of its own (example)")
  set(LEASEQ_MAN_PAGES)
  foreach(prog ${LEASEQ_PROGRAMS})
    set(page ${PROJECT_BINARY_DIR}/man/${prog}.1)
    add_custom_command(OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${prog}> -DNAME=${prog}
              "-DSUMMARY=${summary_${prog}}"
              -DVERSION=${PROJECT_VERSION} -DOUTPUT=${page} -DHELP2MAN=${HELP2MAN}
              -P ${PROJECT_SOURCE_DIR}/cmake/ManPage.cmake
      DEPENDS ${prog} ${PROJECT_SOURCE_DIR}/cmake/ManPage.cmake
      COMMENT "Man page ${prog}.1"
      VERBATIM)
    list(APPEND LEASEQ_MAN_PAGES ${page})
  endforeach()
  add_custom_target(leaseq_man_pages ALL DEPENDS ${LEASEQ_MAN_PAGES})
  install(FILES ${LEASEQ_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# systemd units, with ExecStart pointing at this install's bin directory
# (the files in deploy/systemd/ say /usr/bin, the .deb's). The prefix is read
# at install time, so cpack's /usr and `--prefix DIR` both come out right.
foreach(unit leaseq-broker.service leaseq-worker@.service)
  install(CODE "
    file(READ \"${PROJECT_SOURCE_DIR}/deploy/systemd/${unit}\" unit)
    string(REPLACE \"/usr/bin/\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/\" unit \"\${unit}\")
    set(dest \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/${unit}\")
    message(STATUS \"Installing: \${dest}\")
    file(WRITE \"\${dest}\" \"\${unit}\")
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${dest}\")")
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/leaseq.env
              ${PROJECT_SOURCE_DIR}/deploy/systemd/curve-broker.conf
              ${PROJECT_SOURCE_DIR}/deploy/systemd/curve-worker.conf
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/systemd)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/slurm ${PROJECT_SOURCE_DIR}/deploy/kubernetes
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/deploy.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The .deb: `cpack -G DEB` in the build directory (tests/deploy/deb_test.sh).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME leaseq)
set(CPACK_PACKAGE_VENDOR leaseq)
set(CPACK_PACKAGE_CONTACT "leaseq maintainers <leaseq@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "persistent work queue for preemptible machines (SQLite broker, ZeroMQ workers)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# The build is RelWithDebInfo: ship the programs without their debug info.
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Depends: from the binaries' NEEDED libraries (libzmq5, libsqlite3-0,
# libstdc++6, libc6, ...) where dpkg-shlibdeps exists; the list otherwise.
find_program(DPKG_SHLIBDEPS dpkg-shlibdeps)
if(DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libzmq5, libsqlite3-0, libcpp-httplib0.11, libstdc++6, libgcc-s1, libc6")
endif()
# Building against leaseq::worker needs a compiler and libzmq's link library.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libzmq3-dev, sqlite3")
include(CPack)

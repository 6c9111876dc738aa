# Install layout and the .deb (cpack -G DEB, or `cmake --build build --target package`).
# BPF objects are compiled into the agent (bpftool skeletons), so there are none to install.
include(GNUInstallDirs)

set(FL_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/faultline)
# systemd looks in /usr/lib/systemd/system and /usr/lib/sysusers.d on Debian 12 (merged /usr).
set(FL_UNIT_DIR lib/systemd/system)

install(FILES
	deploy/systemd/faultlined.service
	deploy/systemd/faultline-gameday@.service
	deploy/systemd/faultline-gameday@.timer
	DESTINATION ${FL_UNIT_DIR})
install(FILES deploy/systemd/faultline.sysusers DESTINATION lib/sysusers.d RENAME faultline.conf)
# The audit log's rotation: the one file outside /usr, a conffile (deploy/debian/conffiles).
install(FILES deploy/logrotate/faultline DESTINATION /etc/logrotate.d)
install(FILES man/faultctl.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES man/faultline-experiment.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES man/faultlined.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES completion/faultctl DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
file(GLOB FL_EXAMPLES CONFIGURE_DEPENDS experiments/*.yaml experiments/*.json)
install(FILES ${FL_EXAMPLES} DESTINATION ${FL_DOC_DIR}/experiments)
file(GLOB FL_DOCS CONFIGURE_DEPENDS docs/*.md)
install(FILES README.md ${FL_DOCS} docs/experiment.schema.json docs/report.schema.json
	docs/gameday.schema.json DESTINATION ${FL_DOC_DIR})
install(FILES deploy/kubernetes/faultlined-daemonset.yaml deploy/kubernetes/Containerfile
	DESTINATION ${FL_DOC_DIR}/examples/kubernetes)
install(FILES deploy/ci/gitlab-ci.yml deploy/ci/github-actions.yml
	DESTINATION ${FL_DOC_DIR}/examples/ci)
install(FILES lab/topology.env lab/prometheus.yml.in DESTINATION ${FL_DOC_DIR}/examples/lab)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME faultline)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
	"fault-injection agent (faultlined) and controller (faultctl) for chaos engineering")
set(CPACK_PACKAGE_DESCRIPTION
	"faultlined injects network faults with eBPF and netlink and process faults on a host,\n\
bound to leases and journaled so that nothing is left behind after a crash; faultctl\n\
validates, plans and runs experiment files. Includes the lab's demo service.")
set(CPACK_PACKAGE_CONTACT "faultline maintainers <faultline@localhost>")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
	${CMAKE_SOURCE_DIR}/deploy/debian/postinst
	${CMAKE_SOURCE_DIR}/deploy/debian/prerm
	${CMAKE_SOURCE_DIR}/deploy/debian/postrm
	${CMAKE_SOURCE_DIR}/deploy/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Only what install() lists: no static libraries, no tests.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)

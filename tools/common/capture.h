/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * capture.h - `vale-ctl capture PORT -w FILE|-`: a port's frames, copied by a monitor
 * binding (PORT/rt, /r, /t), written as a pcap file or stream (docs/man/vale-ctl.md).
 */
#ifndef VNM_TOOLS_CAPTURE_H
#define VNM_TOOLS_CAPTURE_H

/* 1 when argv is "vale-ctl [--dir DIR | --dir=DIR] capture ...", else 0. */
int cap_is_command(int argc, char **argv);

/* Run the capture command on that argv; returns the exit status (0, 1 failure, 2 usage). */
int cap_main(int argc, char **argv);

#endif /* VNM_TOOLS_CAPTURE_H */

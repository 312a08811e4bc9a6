#ifndef MT_CLI_H
#define MT_CLI_H

/*
 * Sub-commands of the mero-tee CLI.  Each returns the process exit status:
 * 0 success, 1 the input was checked and refused (verification failed),
 * 2 unusable arguments or unreadable files.
 */
#define MT_EXIT_OK 0
#define MT_EXIT_FAIL 1
#define MT_EXIT_USAGE 2

int mt_cmd_quote(int argc, char **argv);      /* quote parse | quote verify */
int mt_cmd_collateral(int argc, char **argv); /* collateral fetch */
int mt_cmd_bench(int argc, char **argv);      /* bench verify */
int mt_cmd_dev(int argc, char **argv);        /* dev sample (test PKI) */
int mt_cmd_errors(int argc, char **argv);     /* errors: the error table */
int mt_cmd_node(int argc, char **argv);       /* node keygen | peer-id | get-key */
int mt_cmd_audit(int argc, char **argv);      /* audit verify */
int mt_cmd_sigstore(int argc, char **argv);   /* sigstore verify */
int mt_cmd_release(int argc, char **argv);    /* release verify | assemble | sign */
int mt_cmd_policy(int argc, char **argv);     /* policy merod-config */
int mt_cmd_catalog(int argc, char **argv);    /* catalog update */
int mt_cmd_image(int argc, char **argv);      /* image root-hash */
int mt_cmd_measure(int argc, char **argv);    /* measure boot */
int mt_cmd_rtmr(int argc, char **argv);       /* rtmr expected | replay */
int mt_cmd_compose(int argc, char **argv);    /* compose-hash FILE */

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * writer.S: a guest that writes while it migrates, loaded with -bios.
 *
 * No BIOS, no interrupts, no devices but the RTC's CMOS (for the memory
 * size): the reset vector switches to flat 32-bit protected mode and loops
 * over guest RAM from 2 MiB to the top of the memory below 4 GiB (CMOS
 * 0x34/0x35), page by page, forever.  One pass is one generation G
 * (1, 2, ...); page P's contents at generation G are content(P, G):
 *
 *   P & 7 == 0     never touched: a hole on the source all along
 *   P & 7 in 1..3  data(P, G), rewritten every pass
 *   P & 7 in 4..5  data(P, G) if hash(P, G) is odd, else zeroed: data turns
 *                  to zero and zero to data from one pass to the next
 *   P & 7 == 6     data(P, 1): written in the first pass, then left alone
 *   P & 7 == 7     zeroed (zeros stored) every pass: a dirty zero page
 *
 * data(P, G) is a page of zeros but for dword 0 = P, dword 1 = G and
 * dword 1023 = P ^ G ^ 0xa5a5a5a5; hash(P, G) = (P * 0x9e3779b1 ^
 * G * 0x85ebca77) >> 16.  Before it writes a page (classes 1 to 7) the
 * guest checks that the page still holds content(P, G - 1) in those three
 * dwords, so it verifies every page it touches after a migration too.
 *
 * The state, at 1 MiB (a page outside the pages above):
 *   +0  magic "SZWR"    +4  version 1
 *   +8  first page      +12 pages
 *   +16 step: the number of pages done since the start, one store per page
 *       (so the state is consistent wherever the vCPU stops): pages
 *       [first, first + step % pages) are at generation step / pages + 1,
 *       the others one behind (the page at step % pages may be either)
 *   +20 errors: pages found not holding content(P, G - 1)
 *   +24 first bad page  +28 its generation G  +32 its dword 0  +36 dword 1
 *
 * user/qemu/tests/migrate.py reads the state and checks every page from
 * outside too.
 *
 * After each page the guest drops the TLB entries of what it wrote (the
 * page, the state page, the stack) with invlpg.  QEMU 7.2's TCG needs it:
 * the fast path of its dirty-bitmap sync (cpu_physical_memory_sync_dirty_
 * bitmap) clears a page's dirty bit without resetting the TLB entries that
 * let writes skip the dirty tracking (10.0 resets them there, in
 * cpu_physical_memory_dirty_bits_cleared), so a page that stays in the TLB
 * is never sent again: the state page and the stack, written on every
 * step, reached the destination as they were in the first round.
 */
	.set	STATE, 0x100000
	.set	FIRST_PAGE, 0x200000 >> 12
	.set	MAGIC, 0x52575a53		/* "SZWR" */

	.section .text16, "ax"
	.code16
	.globl	start16
start16:
	cli
	cld
	inb	$0x92, %al			/* fast A20 on */
	orb	$2, %al
	andb	$0xfe, %al
	outb	%al, $0x92
	lgdtl	%cs:gdt_desc - start16		/* start16 is at 0xf000:0 */
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $start32

	.code32
start32:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movl	$0x90000, %esp

	/* RAM above 16 MiB in 64 KiB units: CMOS 0x34 (low), 0x35 (high) */
	movb	$0x35, %al
	outb	%al, $0x70
	inb	$0x71, %al
	movzbl	%al, %ecx
	shll	$8, %ecx
	movb	$0x34, %al
	outb	%al, $0x70
	inb	$0x71, %al
	movb	%al, %cl
	shll	$4, %ecx			/* 64 KiB units -> pages */
	addl	$(16 << 20) >> 12, %ecx		/* top page */
	subl	$FIRST_PAGE, %ecx		/* pages */

	movl	$STATE, %ebx
	movl	$MAGIC, 0(%ebx)
	movl	$1, 4(%ebx)
	movl	$FIRST_PAGE, 8(%ebx)
	movl	%ecx, 12(%ebx)
	movl	$0, 16(%ebx)
	movl	$0, 20(%ebx)

	movl	$1, %ebp			/* ebp: generation G */
pass:
	xorl	%esi, %esi			/* esi: index in the pass */
page:
	leal	FIRST_PAGE(%esi), %edi		/* edi: page P */
	movl	%edi, %eax
	andl	$7, %eax
	jz	done				/* class 0: never touched */
	cmpl	$6, %eax
	jne	1f
	cmpl	$1, %ebp			/* class 6: first pass only */
	jne	done
1:
	/* check content(P, G - 1): edx = want dword 0, eax = want dword 1 */
	movl	%ebp, %eax
	decl	%eax
	call	content				/* eax = G-1 or 0, edx = P or 0 */
	movl	%edi, %ecx
	shll	$12, %ecx			/* ecx: the page's address */
	cmpl	%edx, 0(%ecx)
	jne	bad
	cmpl	%eax, 4(%ecx)
	jne	bad
	xorl	%edx, %eax
	testl	%edx, %edx
	jz	2f
	xorl	$0xa5a5a5a5, %eax
2:
	cmpl	%eax, 4092(%ecx)
	je	write
bad:
	incl	20(%ebx)
	cmpl	$1, 20(%ebx)
	jne	write
	movl	%edi, 24(%ebx)
	movl	%ebp, 28(%ebx)
	movl	0(%ecx), %eax
	movl	%eax, 32(%ebx)
	movl	4(%ecx), %eax
	movl	%eax, 36(%ebx)
write:
	movl	%ebp, %eax
	call	content
	movl	%edx, 0(%ecx)
	movl	%eax, 4(%ecx)
	xorl	%edx, %eax
	testl	%edx, %edx
	jz	3f
	xorl	$0xa5a5a5a5, %eax
3:
	movl	%eax, 4092(%ecx)
	invlpg	(%ecx)
done:
	incl	16(%ebx)			/* the one store that moves the state */
	invlpg	(%ebx)
	invlpg	-4(%esp)			/* content's pushes, the calls */
	incl	%esi
	cmpl	12(%ebx), %esi
	jb	page
	incl	%ebp
	jmp	pass

/*
 * content: page P (edi) at generation eax: eax = dword 1, edx = dword 0
 * (both 0 for a zero page).  Clobbers nothing else.
 */
content:
	testl	%eax, %eax
	jz	zero				/* generation 0: never written */
	pushl	%ecx
	movl	%edi, %ecx
	andl	$7, %ecx
	cmpl	$6, %ecx
	je	class6
	cmpl	$7, %ecx
	je	zero_pop
	cmpl	$4, %ecx
	jb	data_pop
	/* classes 4, 5: data if hash(P, G) is odd */
	pushl	%eax
	imull	$0x85ebca77, %eax, %ecx
	imull	$0x9e3779b1, %edi, %edx
	xorl	%edx, %ecx
	popl	%eax
	btl	$16, %ecx
	jc	data_pop
zero_pop:
	popl	%ecx
zero:
	xorl	%eax, %eax
	xorl	%edx, %edx
	ret
class6:
	movl	$1, %eax
data_pop:
	popl	%ecx
	movl	%edi, %edx
	ret

	.balign	8
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff		/* 0x08: code, flat 4 GiB */
	.quad	0x00cf92000000ffff		/* 0x10: data, flat 4 GiB */
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	gdt

	/* the reset vector, at 0xffff0 (and 0xfffffff0) */
	.section .reset, "ax"
	.code16
	ljmpw	$0xf000, $0			/* start16 (writer.ld) */

# Re-plot by hand: gnuplot test_error_ghost.gp (writes test_error_ghost.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('test_error_ghost.gp')]
if (!exists('out')) out = here . 'test_error_ghost.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'ghost: test error against BN''s ghost batch'
set xlabel 'ghost batch g'
set ylabel 'test error (%)'
set key top right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale x
set format x '%g'
set xtics (2, 5, 10, 20)
plot here . 'test_error_ghost.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'bn'

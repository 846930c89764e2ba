# Re-plot by hand: gnuplot explosion_vs_depth.gp (writes explosion_vs_depth.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('explosion_vs_depth.gp')]
if (!exists('out')) out = here . 'explosion_vs_depth.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'first/last-layer gradient norm at initialization against depth'
set xlabel 'hidden layers'
set ylabel '‖dL/dW_1‖ / ‖dL/dW_last hidden‖'
set key top left
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale y
set format y '%g'
set logscale x
set format x '%g'
set xtics (5, 7, 10, 15, 20, 30)
plot here . 'explosion_vs_depth.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'bn', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'none', \
     10 with lines dt 2 lw 1.5 lc rgb 'black' title '10x (the rule''s explosion)'
